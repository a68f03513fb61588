"""Auto stop: when a run with a time limit must end. Pure: the deadline comes from the status.

AliECS (`scheduleAutoStopTransition`) starts a timer when START_ACTIVITY completes, if the
top-level variable `auto_stop_enabled` is true and `auto_stop_timeout` is a duration; when it
fires the core runs STOP_ACTIVITY (as the special user TIMER), and GO_ERROR if that fails; a
STOP or GO_ERROR before then cancels it. o2 keeps no timer in memory: the deadline is the end of
the START_ACTIVITY recorded in status.history for the current run plus the timeout, so it
survives a restart or failover of the controller. When it has passed, the controller sets
spec.state to CONFIGURED (the operator's STOP, recorded with an AutoStop Event), and the usual
STOP_ACTIVITY follows; its failure goes to ERROR as any STOP's does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from crds.duration import format_duration
from crds.kinds.environment import Environment, EnvironmentStatus

AUTO_STOP_REASON = "AutoStop"


@dataclass(frozen=True)
class AutoStop:
    """`due`: stop now; else `remaining` seconds until the run must stop (None: no limit)."""

    due: bool = False
    remaining: float | None = None


def auto_stop(
    env: Environment, status: EnvironmentStatus, limit: float | None, *, now: datetime
) -> AutoStop:
    """Whether the current run of `env` (with `status` as planned) has outlived `limit`."""
    if limit is None or env.spec.state != "RUNNING":
        return AutoStop()
    if status.state != "RUNNING" or status.transition is not None or status.run_number is None:
        return AutoStop()
    started = run_started(status)
    if started is None:
        return AutoStop()
    remaining = limit - (now - started).total_seconds()
    return AutoStop(due=True) if remaining <= 0 else AutoStop(remaining=remaining)


def run_started(status: EnvironmentStatus) -> datetime | None:
    """When the START_ACTIVITY of the current run completed (None if history lost it)."""
    for entry in reversed(status.history):
        if entry.event == "START_ACTIVITY" and entry.run_number == status.run_number:
            return entry.finished_at if entry.result == "Succeeded" else None
    return None


def auto_stop_message(status: EnvironmentStatus, limit: float) -> str:
    """The AutoStop Event's text."""
    timeout = format_duration(limit)
    return f"run {status.run_number} reached auto_stop_timeout {timeout}: stopping it"
