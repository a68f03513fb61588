"""Benchmark: one pilot-controller pass (`plan()`) over a farm-sized world, pure CPU.

Run: .venv/bin/python -m hack.bench.pilots_bench [NODES] [TASKS]. Prints a table and writes
hack/bench/results/pilots_bench.json. Half the nodes are async with a running pilot; tasks are
spread over the sync half; 1% of tasks are unschedulable (they drive reclaim decisions). A pass
runs on every Node/Task/Environment change (de-duplicated by the work queue), so its cost bounds
the controller's reaction time. Single-threaded; noisy on a shared machine.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

from controller.pilots.plan import World, plan
from tests.pilots.factories import SETTINGS, at, env, node, pilot_class, pilot_on, task

RESULTS = Path(__file__).resolve().parent / "results" / "pilots_bench.json"


def world(nodes: int, tasks: int, *, waiting: bool = True) -> World:
    farm = [node(f"n{i:05d}", mode="async" if i % 2 else "sync", cpus=64) for i in range(nodes)]
    pilots = [pilot_on(n.name) for n in farm if n.spec.mode == "async"]
    sync = [n.name for n in farm if n.spec.mode == "sync"]
    work = []
    for i in range(tasks):
        if waiting and i % 100 == 0:
            work.append(task(f"t{i:06d}", environment=f"e{i % 50}", unschedulable_since=0))
        else:
            work.append(task(f"t{i:06d}", environment=f"e{i % 50}", on=sync[i % len(sync)]))
    return World(
        nodes=farm,
        tasks=[*pilots, *work],
        environments={f"e{i}": env(f"e{i}", reclaim="Manual") for i in range(50)},
        classes={"pilot": pilot_class()},
        settings=SETTINGS,
    )


def measure(nodes: int, tasks: int, *, waiting: bool) -> dict[str, object]:
    times = []
    hints = 0
    for _ in range(5):
        w = world(nodes, tasks, waiting=waiting)  # fresh: per-pass indexes are part of the cost
        started = time.perf_counter()
        out = plan(w, now=at(10))
        times.append(time.perf_counter() - started)
        hints = sum(1 for n in out.notes if n.reason == "ReclaimPossible")
    return {
        "scenario": "1% unschedulable" if waiting else "quiet",
        "nodes": nodes,
        "tasks": tasks,
        "pass_ms_median": round(statistics.median(times) * 1000, 1),
        "pass_ms_max": round(max(times) * 1000, 1),
        "hints": hints,
    }


def main(argv: list[str]) -> int:
    nodes = int(argv[0]) if argv else 1000
    tasks = int(argv[1]) if len(argv) > 1 else 10000
    rows = [measure(nodes, tasks, waiting=False), measure(nodes, tasks, waiting=True)]
    print(f"{'scenario':<18} {'nodes':>6} {'tasks':>7} {'pass ms (median)':>17} {'max':>7}")
    for r in rows:
        print(
            f"{r['scenario']:<18} {r['nodes']:>6} {r['tasks']:>7} {r['pass_ms_median']:>17} "
            f"{r['pass_ms_max']:>7}"
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
