"""Run o2's benchmarks one after another: `python -m hack.bench [NAME ...]` (default: all).

Each benchmark prints its own table and writes hack/bench/results/<name>.json; run them on a
quiet machine, since they share its cores with whatever else runs.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
TOOLS = {"__main__", "compare", "gcstats", "loopwatch", "memtrace", "scale_reads"}
"""Runnable modules that are not benchmarks: this runner, the comparer, and tools that take
arguments about a run to look at."""


def available() -> list[str]:
    """The benchmarks: the modules here that run as a program (helpers shared by benchmarks,
    such as stack.py or cpu.py, have no `__main__` block), less the tools."""
    return sorted(
        p.stem
        for p in HERE.glob("*.py")
        if p.stem not in TOOLS and '__name__ == "__main__"' in p.read_text()
    )


def main(argv: list[str]) -> int:
    names = argv or available()
    unknown = [n for n in names if n not in available()]
    if unknown:
        print(f"unknown benchmark(s) {', '.join(unknown)}; have: {', '.join(available())}")
        return 2
    failed = []
    for name in names:
        print(f"\n=== hack.bench.{name} ===", flush=True)
        code = subprocess.call([sys.executable, "-m", f"hack.bench.{name}"])
        if code != 0:
            failed.append(name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
