"""Restart back-off for pilots that keep ending by themselves (as Kubernetes' CrashLoopBackOff).

Pure: the node's `status.backoff` record, the pilot Task and `now` in, a new record out. The
record lives in etcd (Node status), so a restarted controller keeps the same pace; the plan
(controller.pilots.plan) decides when to consult it.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from controller.pilots.settings import PilotSettings
from crds.kinds.node import PilotBackOff
from crds.kinds.task import Task

MAX_DOUBLINGS = 30
"""2^30 * any sane base is far past any sane max: stops the power from growing without bound."""


def delay(failures: int, settings: PilotSettings) -> float:
    """Seconds to wait after the `failures`-th pilot in a row ended: min(base * 2^(k-1), max)."""
    if failures <= 0 or settings.backoff_base <= 0:
        return 0.0
    grown = math.ldexp(settings.backoff_base, min(failures - 1, MAX_DOUBLINGS))
    return max(min(grown, settings.backoff_max), 0.0)


def run_id(pilot: Task) -> str:
    """What tells one pilot apart from the next of the same name (`pilot-<node>`)."""
    return pilot.metadata.uid or pilot.status.mesos_task_id or ""


def counted(record: PilotBackOff | None, pilot: Task) -> bool:
    """This ended pilot is already in the record (a second pass, or a restarted controller)."""
    return record is not None and bool(run_id(pilot)) and record.pilot_uid == run_id(pilot)


def ran_for(pilot: Task, *, now: datetime, record: PilotBackOff | None = None) -> float:
    """Seconds since the pilot was launched (or, unknown, since it could first have been)."""
    since = pilot.status.started_at or (record.not_before if record is not None else None)
    return 0.0 if since is None else (now - since).total_seconds()


def ended(
    record: PilotBackOff | None, pilot: Task, settings: PilotSettings, *, now: datetime
) -> PilotBackOff:
    """The record after `pilot` ended by itself: one more in a row, unless it had run well."""
    healthy = ran_for(pilot, now=now) >= settings.backoff_reset
    failures = 1 if record is None or healthy else record.failures + 1
    wait = delay(failures, settings)
    return PilotBackOff(
        failures=failures,
        pilot=pilot.name,
        pilot_uid=run_id(pilot),
        phase=pilot.status.phase,
        detail=_detail(pilot),
        ended_at=now,
        not_before=now + timedelta(seconds=wait),
    )


def reset_in(record: PilotBackOff, pilot: Task, settings: PilotSettings, *, now: datetime) -> float:
    """Seconds until a Running pilot has run long enough to clear the record (<= 0: now)."""
    return settings.backoff_reset - ran_for(pilot, now=now, record=record)


def waiting(record: PilotBackOff | None, *, now: datetime) -> float:
    """Seconds left before the next pilot may be created (<= 0: it may)."""
    if record is None or record.not_before is None:
        return 0.0
    return (record.not_before - now).total_seconds()


def message(record: PilotBackOff) -> str:
    """Stable for one record (the Pilot condition and the Event): no "seconds left" countdown."""
    times = "" if record.failures == 1 else f" {record.failures} times in a row"
    how = ", ".join(part for part in (record.phase, record.detail) if part)
    wait = 0.0
    if record.not_before is not None and record.ended_at is not None:
        wait = (record.not_before - record.ended_at).total_seconds()
    until = f" (at {record.not_before:%H:%M:%S}Z)" if record.not_before is not None else ""
    return f"pilot {record.pilot} ended{times} ({how}): next start in {wait:g}s{until}"


def _detail(pilot: Task) -> str:
    status = pilot.status
    if status.exit_code is not None:
        return f"exit code {status.exit_code}"
    if status.signal is not None:
        return f"signal {status.signal}"
    return status.reason
