"""Sample run-log records for the Runs view's screenshot: 30 runs of two environments."""

from __future__ import annotations

from crds.runlog import RunRecord, TransitionTime, encode, record_key
from store.api import RuntimeKV

START_MS = 1_780_000_000_000


def sample_run(number: int) -> RunRecord:
    """Run `number`: physics-1 (TPC, ITS) mostly, tech-its every third; one ends in ERROR."""
    physics = number % 3 != 0
    wobble = (number * 37) % 11 / 10
    steps = (
        TransitionTime(event="CONFIGURE", duration_seconds=4.0 + wobble * 2),
        TransitionTime(event="START_ACTIVITY", duration_seconds=1.2 + wobble),
        TransitionTime(event="STOP_ACTIVITY", duration_seconds=0.6 + wobble / 2),
    )
    error = number == 24
    begin = START_MS + number * 3_600_000
    length = 1800 + (number * 613) % 1500
    return RunRecord(
        environment="physics-1" if physics else "tech-its",
        environment_uid="uid-physics-1" if physics else "uid-tech-its",
        run_number=500 + number,
        run_type="PHYSICS" if physics else "TECHNICAL",
        detectors=("TPC", "ITS") if physics else ("ITS",),
        started_at_ms=begin,
        stopped_at_ms=begin + length * 1000,
        duration_seconds=float(length),
        transitions=(*steps[:2], TransitionTime(event="GO_ERROR", duration_seconds=2.5))
        if error
        else steps,
        ended_in_error=error,
        error="task flp-tpc-3 (readout) died: killed by signal 9" if error else "",
    )


async def populate_runs(kv: RuntimeKV, prefix: str, *, count: int = 30) -> None:
    for number in range(1, count + 1):
        record = sample_run(number)
        key = record_key(prefix, record.run_number, record.environment_uid)
        await kv.put_raw(key, encode(record))
