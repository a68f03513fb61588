"""Run a module with its garbage collections counted and timed, per generation.

    python -m hack.bench.gcstats <out.json> -m controller --etcd ...

A gc.callbacks hook times every collection (start to stop, time.thread_time: the CPU of the
thread that collected, which holds the GIL throughout) and rewrites <out.json> after each one
(the write is not counted) with the totals so far: {"0": {"count", "seconds", "collected"},
"1": ..., "2": ...}. A reader takes the difference of two reads as the collections between
them. The benchmarks start the manager and the local cluster this way with BENCH_GCSTATS=1
(hack.bench.stack; <work>/<name>-gc.json) and show each transition's share
(hack.bench.environments_stack). py-spy does not show the collector: its time is charged to
whichever frame allocated. BENCH_GCSTATS=detail also writes <out>.detail.json: for each
collection, what it was about to walk (objects, references, the biggest containers; slow: for
finding what a pass walks, not for timings). Not a benchmark itself (hack.bench's runner
skips it).
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

    def __init__(self, out: Path, *, detail: bool = False) -> None:
        self.out = out
        self.detail: list[Any] | None = [] if detail else None
        self.totals = {str(g): {"count": 0, "seconds": 0.0, "collected": 0} for g in range(3)}
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            if self.detail is not None:
                self.detail.append(_young(info["generation"]))
            self._started = time.thread_time()
            return
        spent = time.thread_time() - self._started
        row = self.totals[str(info["generation"])]
        row["count"] += 1
        row["seconds"] += spent
        row["collected"] += info["collected"]
        if self.detail is not None:
            self.detail[-1]["seconds"] = spent
        self.write()

    def write(self) -> None:
        tmp = self.out.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.totals))
        os.replace(tmp, self.out)
        if self.detail is not None:
            self.out.with_suffix(".detail.json").write_text(json.dumps(self.detail, indent=1))


def _young(generation: int) -> dict[str, Any]:
    """BENCH_GCSTATS=detail: what a collection is about to walk (its generations' objects, the
    references they hold, the biggest containers by references and how many of each type)."""
    objs = [o for g in range(generation + 1) for o in gc.get_objects(g)]
    refs = [(len(gc.get_referents(o)), o) for o in objs]
    biggest = sorted(refs, key=lambda r: r[0], reverse=True)[:8]
    kinds: dict[str, int] = {}
    for o in objs:
        kinds[type(o).__name__] = kinds.get(type(o).__name__, 0) + 1
    return {
        "generation": generation,
        "objects": len(objs),
        "references": sum(r[0] for r in refs),
        "biggest": [[n, type(o).__name__, _sample(o)] for n, o in biggest],
        "types": sorted(kinds.items(), key=lambda k: k[1], reverse=True)[:12],
    }


def _sample(o: Any) -> str:
    """The types of a container's first items (C-level reads: no Python code of `o` runs)."""
    if isinstance(o, dict):
        keys = list(dict.keys(o))[:2]
        return repr([(type(k).__name__, type(dict.__getitem__(o, k)).__name__) for k in keys])
    if isinstance(o, (list, tuple)):
        return repr([type(x).__name__ for x in list(o[:2])])
    return ""


def read(path: Path) -> dict[str, dict[str, float]]:
    """The totals `path` holds now (none yet: zeros)."""
    try:
        totals: dict[str, dict[str, float]] = json.loads(path.read_text())
    except FileNotFoundError:
        return {str(g): {"count": 0, "seconds": 0.0, "collected": 0} for g in range(3)}
    return totals


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
    stats = GcStats(out, detail=os.environ.get("BENCH_GCSTATS") == "detail")
    stats.write()
    gc.callbacks.append(stats)
    sys.argv = [module, *sys.argv[4:]]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
