"""`python -m hack.bench` runs the benchmarks only: not the helpers they share."""

from __future__ import annotations

from hack.bench.__main__ import HERE, available


def test_lists_every_benchmark_and_no_helper() -> None:
    names = available()
    assert {p.stem for p in HERE.glob("*_bench.py")} <= set(names)
    for helper in ("cpu", "stack", "real_tasks_phases", "real_tasks_procs", "task_memory"):
        assert helper not in names
    for tool in ("compare", "loopwatch", "memtrace", "scale_reads", "__main__", "__init__"):
        assert tool not in names
