"""Run a module with its garbage collections counted and timed, per generation.

    python -m hack.bench.gcstats <out.json> -m controller --etcd ...

A gc.callbacks hook times every collection (start to stop, time.thread_time: the CPU of the
thread that collected, which holds the GIL throughout) and rewrites <out.json> after each one
(the write is not counted) with the totals so far: {"0": {"count", "seconds", "collected"},
"1": ..., "2": ...}. A reader takes the difference of two reads as the collections between
them. The benchmarks start the manager and the local cluster this way with BENCH_GCSTATS=1
(hack.bench.stack; <work>/<name>-gc.json) and show each transition's share
(hack.bench.environments_stack). py-spy does not show the collector: its time is charged to
whichever frame allocated. Not a benchmark itself (hack.bench's runner skips it).
"""

from __future__ import annotations

import gc
import json
import os
import runpy
import sys
import time
from pathlib import Path
from typing import Any


class GcStats:
    """The totals per generation, rewritten to `out` after each collection."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.totals = {str(g): {"count": 0, "seconds": 0.0, "collected": 0} for g in range(3)}
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.thread_time()
            return
        spent = time.thread_time() - self._started
        row = self.totals[str(info["generation"])]
        row["count"] += 1
        row["seconds"] += spent
        row["collected"] += info["collected"]
        self.write()

    def write(self) -> None:
        tmp = self.out.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.totals))
        os.replace(tmp, self.out)


def read(path: Path) -> dict[str, dict[str, float]]:
    """The totals `path` holds now (none yet: zeros)."""
    try:
        totals: dict[str, dict[str, float]] = json.loads(path.read_text())
        return totals
    except FileNotFoundError:
        return {str(g): {"count": 0, "seconds": 0.0, "collected": 0} for g in range(3)}


def between(before: dict[str, dict[str, float]], after: dict[str, dict[str, float]]) -> Any:
    """The collections between two reads, per generation, and their total seconds."""
    rows = {g: {k: after[g][k] - before[g][k] for k in after[g]} for g in after}
    return {"seconds": sum(r["seconds"] for r in rows.values()), **rows}


def describe(per_process: dict[str, Any]) -> str:
    """One line: per process, the seconds and count of each generation's collections."""
    return "; ".join(
        f"{name} {row['seconds']:.2f} s ("
        + ", ".join(f"g{g} {row[g]['count']}x {row[g]['seconds']:.2f}" for g in "012")
        + ")"
        for name, row in per_process.items()
    )


def main() -> None:
    if len(sys.argv) < 4 or sys.argv[2] != "-m":
        raise SystemExit("usage: python -m hack.bench.gcstats OUT.json -m MODULE [ARGS...]")
    out, module = Path(sys.argv[1]), sys.argv[3]
    stats = GcStats(out)
    stats.write()
    gc.callbacks.append(stats)
    sys.argv = [module, *sys.argv[4:]]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
