"""Run a module under tracemalloc, dumping a snapshot on SIGUSR2 (memory per task, by line).

    python -m hack.bench.memtrace <out-dir> -m controller --etcd ...

Each SIGUSR2 writes <out-dir>/snapshot-<n>.bin (tracemalloc.Snapshot.dump, 4 frames);
compare two with `tracemalloc.Snapshot.load(...).compare_to(other, "traceback")`. The
benchmarks start the manager this way with BENCH_TRACEMALLOC=<dir> (hack.bench.stack) and
signal it before DEPLOY and at RUNNING. Tracing slows the process several times: for where the
bytes go, not for timings. Not a benchmark itself (hack.bench's runner skips it).
"""

from __future__ import annotations

import gc
import itertools
import runpy
import signal
import sys
import tracemalloc
from pathlib import Path
from types import FrameType

FRAMES = 4


def main() -> None:
    if len(sys.argv) < 4 or sys.argv[2] != "-m":
        raise SystemExit("usage: python -m hack.bench.memtrace OUT_DIR -m MODULE [ARGS...]")
    out, module = Path(sys.argv[1]), sys.argv[3]
    out.mkdir(parents=True, exist_ok=True)
    counter = itertools.count(1)

    def dump(signum: int, frame: FrameType | None) -> None:
        del signum, frame
        gc.collect()
        tracemalloc.take_snapshot().dump(str(out / f"snapshot-{next(counter)}.bin"))

    signal.signal(signal.SIGUSR2, dump)
    tracemalloc.start(FRAMES)
    sys.argv = [module, *sys.argv[4:]]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
