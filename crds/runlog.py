"""The run log: one record per finished run, kept in etcd beside the run-number claims. Pure.

The environment controller writes a record once a run has ended (STOP_ACTIVITY done, or
GO_ERROR out of RUNNING) under `<prefix>/runtime/runs/<run number>-<environment uid>` (put only
if absent: a restarted controller or a new leader never writes a run twice) and keeps the newest
`--run-log-size` records (run numbers only grow, so the keys sort oldest first). Environment
Events expire after an hour; this log is what the GUI's Runs page and `o2 get runs` read.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Protocol, runtime_checkable

from pydantic import ValidationError

from crds.meta import O2Model

RUN_LOG = "runs"
"""The log's name under `<prefix>/runtime/`."""
RUN_DIGITS = 12
"""Run numbers are zero-padded in keys, so etcd's key order is run order."""


@runtime_checkable
class LogReader(Protocol):
    """What reading the log needs of a store (store.api.RuntimeKV and its prefix)."""

    prefix: str

    async def list_raw(self, prefix: str) -> dict[str, bytes]: ...


class TransitionTime(O2Model):
    """One transition the run went through, as status.history recorded it."""

    event: str
    """DEPLOY, CONFIGURE, START_ACTIVITY, STOP_ACTIVITY, GO_ERROR, ..."""
    duration_seconds: float | None = None
    """How long it took (None when its start was not recorded)."""
    result: str = "Succeeded"
    """Succeeded, Failed or Cancelled."""


class RunRecord(O2Model):
    """A finished run: what the control room's run history shows."""

    environment: str
    """The environment's name."""
    environment_uid: str
    """Its uid (a name can be reused by a later environment)."""
    run_number: int
    """The run number from the etcd counter."""
    run_type: str = ""
    """The run type (the `run_type` variable, else spec.runType)."""
    detectors: tuple[str, ...] = ()
    """The detectors the environment held."""
    started_at_ms: int | None = None
    """When the run number was allocated (run_start_time_ms), ms since the epoch."""
    stopped_at_ms: int | None = None
    """When the run's STOP_ACTIVITY or GO_ERROR began (run_end_time_ms)."""
    duration_seconds: float | None = None
    """stoppedAt - startedAt."""
    started_by: str = ""
    """Who wrote the spec the controller acted on when it allocated the run number (the GUI's
    user, or the login name of `o2 start`); "" when that write named nobody (`o2 apply`, GitOps,
    ...: crds.changedby). A spec write named by someone else between the START request and the
    run number (a variable changed in that second) is credited instead."""
    stopped_by: str = ""
    """Who wrote the spec the controller acted on when the STOP_ACTIVITY began (as startedBy);
    "" for a run ended by GO_ERROR or by the auto stop."""
    transitions: tuple[TransitionTime, ...] = ()
    """The transitions since the previous run ended, oldest first."""
    ended_in_error: bool = False
    """The run ended by GO_ERROR."""
    error: str = ""
    """Why it went to ERROR."""
    task_count: int | None = None
    """How many tasks the environment owned when the run was logged; None in records written
    before it was kept, or when the environment owned none."""
    deploy_seconds: float | None = None
    """How long the DEPLOY of the environment's incarnation took (the latest one that
    succeeded before the run ended), so that a second run of the same incarnation still says
    it; None when unknown (an older record, or status.history no longer holding it)."""
    configure_seconds: float | None = None
    """How long the latest successful CONFIGURE before the run ended took; None when unknown."""


def record_key(prefix: str, run_number: int, uid: str) -> str:
    """`<prefix>/runtime/runs/<run number, zero-padded>-<uid>`."""
    return f"{log_prefix(prefix)}{run_number:0{RUN_DIGITS}d}-{uid}"


def log_prefix(prefix: str) -> str:
    """The key prefix every record lives under."""
    return f"{prefix.rstrip('/')}/runtime/{RUN_LOG}/"


def encode(record: RunRecord) -> bytes:
    return record.model_dump_json(by_alias=True, exclude_defaults=True).encode()


def decode(raw: bytes) -> RunRecord | None:
    """The record in `raw`, or None when it is not one (written by someone else: skipped)."""
    try:
        return RunRecord.model_validate(json.loads(raw))
    except (ValueError, ValidationError):
        return None


def newest_first(
    raw: Mapping[str, bytes],
    *,
    environment: str = "",
    detector: str = "",
    limit: int | None = None,
) -> list[RunRecord]:
    """The readable records of `raw` (key -> value), newest run first, of `environment` and
    holding `detector` when given (detector names compare case-insensitively)."""
    wanted = detector.upper()
    records = [r for r in map(decode, raw.values()) if r is not None]
    records.sort(key=lambda r: r.run_number, reverse=True)
    chosen = (
        r
        for r in records
        if (not environment or r.environment == environment)
        and (not wanted or wanted in (d.upper() for d in r.detectors))
    )
    return list(chosen)[:limit] if limit is not None else list(chosen)


def as_json(records: Iterable[RunRecord]) -> list[dict[str, object]]:
    """The records as the API and `-o json` show them (camelCase, every field)."""
    return [r.model_dump(mode="json", by_alias=True) for r in records]
