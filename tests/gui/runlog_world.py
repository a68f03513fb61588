"""Sample run-log records for the Runs view's screenshot: 30 runs of two environments."""

from __future__ import annotations

from crds.runlog import RunRecord, TransitionTime, encode, record_key
from store.api import RuntimeKV

START_MS = 1_780_000_000_000
FARM_SIZES = (48, 96, 192, 384, 768)
"""physics-1's task count per incarnation (a new one every six runs), for the scaling plot."""


def sample_run(number: int) -> RunRecord:
    """Run `number`: physics-1 (TPC, ITS) mostly, redeployed larger every six runs; tech-its
    (12 tasks) every third; one ends in ERROR. Times grow with the task count."""
    physics = number % 3 != 0
    wobble = (number * 37) % 11 / 10
    incarnation = (number - 1) // 6
    tasks = FARM_SIZES[incarnation % len(FARM_SIZES)] if physics else 12
    steps = (
        TransitionTime(event="CONFIGURE", duration_seconds=1.5 + tasks / 120 + wobble * 2),
        TransitionTime(event="START_ACTIVITY", duration_seconds=0.8 + tasks / 400 + wobble),
        TransitionTime(event="STOP_ACTIVITY", duration_seconds=0.6 + wobble / 2),
    )
    error = number == 24
    begin = START_MS + number * 3_600_000
    length = 1800 + (number * 613) % 1500
    return RunRecord(
        environment="physics-1" if physics else "tech-its",
        environment_uid=f"uid-physics-1-{incarnation}" if physics else "uid-tech-its",
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
        task_count=tasks,
        deploy_seconds=2.0 + tasks / 60 + (incarnation % 3) / 2 if physics else 3.1,
        configure_seconds=steps[0].duration_seconds,
    )


async def populate_runs(kv: RuntimeKV, prefix: str, *, count: int = 30) -> None:
    for number in range(1, count + 1):
        record = sample_run(number)
        key = record_key(prefix, record.run_number, record.environment_uid)
        await kv.put_raw(key, encode(record))
