"""Executor benchmark: spawn cost (with the parent-death wrapper), launch -> OCC STANDBY for N
sample tasks, one batched transition over N tasks, and the graceful kill of all of them.

`.venv/bin/python -m hack.bench.executor_bench [--tasks N] [--spawns N]` prints a table and
writes hack/bench/results/executor_bench.json. The machine is shared (2 cores): absolute numbers
are noisy; the N tasks are real Python processes, so launch time is mostly interpreter start-up.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from executor.runtime import LaunchSpec, StatusUpdate, TaskRunner, Timeouts
from executor.supervisor import CommandSpec, spawn
from mesosapi.o2messages import ControlItem, ControlRequest

RESULTS = Path(__file__).resolve().parent / "results" / "executor_bench.json"
REPO = str(Path(__file__).resolve().parents[2])


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def plain_spawn_ms(count: int) -> list[float]:
    plain = []
    for _ in range(count):
        t0 = time.perf_counter()
        subprocess.run(["/bin/true"], check=True)
        plain.append((time.perf_counter() - t0) * 1000)
    return plain


async def spawn_cost(count: int, sandbox: Path) -> dict[str, float]:
    """ms per spawn+exit of /bin/true: plain subprocess vs o2's supervisor (wrapper + pidfd)."""
    plain = plain_spawn_ms(count)  # before the loop has other work: blocking is harmless here
    wrapped = []
    for i in range(count):
        t0 = time.perf_counter()
        await spawn(f"s{i}", CommandSpec(value="/bin/true"), sandbox=sandbox / f"s{i}").wait()
        wrapped.append((time.perf_counter() - t0) * 1000)
    return {
        "plain_ms_p50": statistics.median(plain),
        "supervised_ms_p50": statistics.median(wrapped),
        "supervised_ms_p99": pct(wrapped, 0.99),
    }


class Clock:
    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.running: dict[str, float] = {}
        self.ended: dict[str, float] = {}
        self.all_running = asyncio.Event()
        self.all_ended = asyncio.Event()
        self.expected = 0

    def __call__(self, update: StatusUpdate) -> None:
        now = time.perf_counter() - self.t0
        if update.state == "TASK_RUNNING":
            self.running[update.task_id] = now
        elif update.state != "TASK_STARTING":
            self.ended[update.task_id] = now
        if len(self.running) >= self.expected:
            self.all_running.set()
        if len(self.ended) >= self.expected:
            self.all_ended.set()


def control(request_id: str, ids: list[str], event: str, **arguments: str) -> ControlRequest:
    items = tuple(
        ControlItem(task_id=t, transition_id=f"{request_id}-{t}", event=event, arguments=arguments)
        for t in ids
    )
    return ControlRequest(request_id=request_id, items=items, timeout_seconds=60)


async def tasks_bench(count: int, sandbox: Path) -> dict[str, Any]:
    clock = Clock()
    clock.expected = count
    runner = TaskRunner(on_status=clock, timeouts=Timeouts(startup=120, kill_step=10))
    command = CommandSpec(
        value=sys.executable,
        arguments=("-m", "executor.sample_task", "--detector", "BEN"),
        env={"PYTHONPATH": REPO, "RATE": "1000"},
    )
    ids = [f"task-{i:04d}" for i in range(count)]
    out: dict[str, Any] = {"tasks": count}
    try:
        for task_id in ids:
            await runner.launch(
                LaunchSpec(task_id=task_id, command=command, sandbox=sandbox / task_id)
            )
        await asyncio.wait_for(clock.all_running.wait(), 300)
        ready = list(clock.running.values())
        out["launch_to_standby_s_p50"] = statistics.median(ready)
        out["launch_to_standby_s_all"] = max(ready)
        steps = [
            ("CONFIGURE", {"detector": "BEN"}),
            ("START", {"run_number": "1"}),
            ("STOP", {}),
            ("RESET", {}),
        ]
        for n, (event, arguments) in enumerate(steps):
            t0 = time.perf_counter()
            results = await runner.control(control(f"r{n}", ids, event, **arguments))
            elapsed = time.perf_counter() - t0
            assert all(r.ok for r in results.results), results.results[:3]
            out[f"batch_{event.lower()}_ms"] = elapsed * 1000
        t0 = time.perf_counter()
        await runner.control(control("r0", ids, "CONFIGURE", detector="BEN"))
        out["batch_replay_ms"] = (time.perf_counter() - t0) * 1000
        t0 = time.perf_counter()
        await runner.close()
        out["kill_all_graceful_s"] = time.perf_counter() - t0
    finally:
        await runner.close()
    return out


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="o2-exec-bench-") as tmp:
        sandbox = Path(tmp)
        spawns = await spawn_cost(args.spawns, sandbox / "spawn")
        tasks = await tasks_bench(args.tasks, sandbox / "tasks")
    return {"spawn": spawns, "tasks": tasks}


def print_table(result: dict[str, Any]) -> None:
    print(f"{'measure':<36} {'value':>12}")
    for group, values in result.items():
        for key, value in values.items():
            shown = f"{value:.1f}" if isinstance(value, float) else str(value)
            print(f"{group + '.' + key:<36} {shown:>12}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=50)
    parser.add_argument("--spawns", type=int, default=30)
    args = parser.parse_args()
    result = asyncio.run(main_async(args))
    print_table(result)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
