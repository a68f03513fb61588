"""The run log's writer (crds.runlog): a record per ended run, the newest N kept.

Not on the reconcile path: the environment controller's job `run-log` runs when an
Environment's status shows a run ended (and at the start of every leadership term, and about
every resync period), and writes the record of each environment whose last run has none yet.
A record is derived from the Environment alone (`run_record`: status.runtimeVars times,
status.history, detectors, spec), so whoever writes it, the first reconcile after the run ended
or a new leader after a crash that came between, writes the same record, and only once (put if
absent). The keys this term has seen are kept in memory (read once per term), so a run end
costs one create and, once the log is full, one delete of the oldest record.
"""

from __future__ import annotations

import bisect
import logging
from collections.abc import Iterable
from typing import Any

from controller.environments.runvars import RUN_END, RUN_START, RUN_STARTED_BY, RUN_STOPPED_BY
from crds.kinds.environment import Environment, TransitionRecord
from crds.runlog import RunRecord, TransitionTime, decode, encode, log_prefix, record_key
from store.api import RuntimeKV
from store.informer import CacheEvent

log = logging.getLogger(__name__)

RUN_TYPE_VAR = "run_type"


def ended_run(env: Environment) -> int | None:
    """The run number of the environment's last run once it has ended (no run goes on and no
    START has taken a new number since: the run's times are still in status.runtimeVars)."""
    status = env.status
    if status.run_number is not None:
        return None
    return status.last_run_number


def run_ended(event: CacheEvent[Any]) -> bool:
    """The status of `event` shows a run that has just ended (or one never seen before): the
    trigger of the `run-log` job."""
    new = event.new
    if new is None or ended_run(new) is None:
        return False
    return event.old is None or ended_run(event.old) != ended_run(new)


def run_record(env: Environment) -> RunRecord | None:
    """The record of the environment's last run, once it has ended. Pure."""
    number = ended_run(env)
    if number is None:
        return None
    status = env.status
    steps = run_transitions(status.history, number)
    started, stopped = (
        _ms(status.runtime_vars.get(RUN_START)),
        _ms(status.runtime_vars.get(RUN_END)),
    )
    in_error = status.state == "ERROR" or any(t.event == "GO_ERROR" for t in steps)
    failures = [t.message for t in steps if t.result == "Failed" and t.message]
    error = (failures[-1] if failures else status.message) if in_error else ""
    return RunRecord(
        environment=env.name,
        environment_uid=env.metadata.uid,
        run_number=number,
        run_type=_run_type(env),
        detectors=status.detectors,
        started_at_ms=started,
        stopped_at_ms=stopped,
        duration_seconds=(stopped - started) / 1000 if started and stopped else None,
        transitions=tuple(
            TransitionTime(event=t.event, duration_seconds=t.duration_seconds, result=t.result)
            for t in steps
        ),
        started_by=status.runtime_vars.get(RUN_STARTED_BY, ""),
        stopped_by=status.runtime_vars.get(RUN_STOPPED_BY, ""),
        ended_in_error=in_error,
        error=error,
        task_count=status.task_total or None,
        deploy_seconds=latest_duration(status.history, number, "DEPLOY"),
        configure_seconds=latest_duration(status.history, number, "CONFIGURE"),
    )


def latest_duration(history: tuple[TransitionRecord, ...], number: int, event: str) -> float | None:
    """The duration of the latest successful `event` up to run `number`'s last transition (the
    incarnation's DEPLOY, the CONFIGURE the run was started from); None when history holds none."""
    own = [i for i, t in enumerate(history) if t.run_number == number]
    before = history[: own[-1] + 1] if own else ()
    found = [t.duration_seconds for t in before if t.event == event and t.result == "Succeeded"]
    return found[-1] if found else None


def run_transitions(
    history: tuple[TransitionRecord, ...], number: int
) -> tuple[TransitionRecord, ...]:
    """The transitions of run `number`: those after the previous run's last one (DEPLOY,
    CONFIGURE, ... that led to it), up to its own last one (STOP_ACTIVITY or GO_ERROR)."""
    own = [i for i, t in enumerate(history) if t.run_number == number]
    if not own:
        return ()
    earlier = [i for i, t in enumerate(history[: own[0]]) if t.run_number not in (None, number)]
    first = earlier[-1] + 1 if earlier else 0
    return history[first : own[-1] + 1]


def _run_type(env: Environment) -> str:
    values = (env.spec.vars.get(RUN_TYPE_VAR), env.status.runtime_vars.get(RUN_TYPE_VAR))
    return next((v for v in values if v), env.spec.run_type)


def _ms(text: str | None) -> int | None:
    try:
        return int(text) if text else None
    except ValueError:
        return None


async def carried_forward(kv: RuntimeKV, record: RunRecord, keys: list[str], key: str) -> RunRecord:
    """`record` with the DEPLOY/CONFIGURE durations its status.history no longer holds (after
    HISTORY_LIMIT transitions) taken from the same incarnation's previous record, if kept."""
    if record.deploy_seconds is not None and record.configure_seconds is not None:
        return record
    suffix = f"-{record.environment_uid}"
    earlier = [k for k in keys[: bisect.bisect_left(keys, key)] if k.endswith(suffix)]
    found = await kv.get_raw(earlier[-1]) if earlier else None
    previous = decode(found.value) if found is not None else None
    if previous is None:
        return record
    return record.model_copy(
        update={
            "deploy_seconds": _first(record.deploy_seconds, previous.deploy_seconds),
            "configure_seconds": _first(record.configure_seconds, previous.configure_seconds),
        }
    )


def _first(value: float | None, fallback: float | None) -> float | None:
    return value if value is not None else fallback


class RunLog:
    """Writes missing records and trims the log to `size`; one instance per controller."""

    def __init__(self, *, size: int) -> None:
        self.size = max(1, size)
        self._keys: list[str] | None = None
        """The log's keys, sorted (oldest run first), as this term knows them; None: unread."""
        self._known: set[str] = set()

    def forget(self) -> None:
        """A term ended: the next one reads the log again (another leader may have written)."""
        self._keys = None
        self._known.clear()

    async def sweep(self, kv: RuntimeKV, prefix: str, envs: Iterable[Environment]) -> int:
        """Write the record of every ended run not logged yet, then trim; returns how many
        records were written."""
        keys = await self._read(kv, prefix)
        written = 0
        for env in envs:
            record = run_record(env)
            if record is None:
                continue
            key = record_key(prefix, record.run_number, record.environment_uid)
            if key in self._known or (len(keys) >= self.size and keys and key < keys[0]):
                continue  # logged, or older than everything kept: trimmed already
            record = await carried_forward(kv, record, keys, key)
            if await kv.create_raw(key, encode(record)) is not None:
                written += 1
                log.info("Run logged", extra={"environment": env.name, "run": record.run_number})
            bisect.insort(keys, key)
            self._known.add(key)
        await self._trim(kv, keys)
        return written

    async def _read(self, kv: RuntimeKV, prefix: str) -> list[str]:
        if self._keys is None:
            self._keys = sorted(await kv.list_raw(log_prefix(prefix)))
            self._known = set(self._keys)
        return self._keys

    async def _trim(self, kv: RuntimeKV, keys: list[str]) -> None:
        """Delete the oldest records beyond `size`."""
        while len(keys) > self.size:
            await kv.delete_raw(keys[0])
            self._known.discard(keys.pop(0))
