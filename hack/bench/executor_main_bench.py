"""The o2 executor program end to end: N sample tasks on one real agent of the local cluster.

    .venv/bin/python -m hack.bench.executor_main_bench [--tasks 30] [--rounds 3]

What the controller sees through Mesos: one ACCEPT launching N tasks -> all TASK_RUNNING (OCC
STANDBY); then per round one MESSAGE carrying CONFIGURE (then START, STOP, RESET) for all N
tasks -> the single ControlResults reply; a replay of one request (answered from the cache);
SHUTDOWN of the executor -> all N TASK_KILLED. Compare with hack.bench.executor_bench (the same
work without Mesos) to see the transport's share. A shared 2-core machine: noisy numbers, and
launch time is mostly Python start-up of N processes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from mesosapi.scheduler import Update
from tests.executor_main.helpers import EXECUTOR_ID, Scheduler, control, is_update, scheduler
from tests.mesos_fixture import start_localmesos

RESULTS = Path(__file__).resolve().parent / "results" / "executor_main_bench.json"
EVENTS = ("CONFIGURE", "START", "STOP", "RESET")


async def _all(sched: Scheduler, names: list[str], state: str) -> None:
    for name in names:
        await sched.wait_for(Update, is_update(name, state), within=300)


async def _batch(sched: Scheduler, names: list[str], event: str, request_id: str) -> float:
    items = [(n, f"{request_id}-{n}", event, {"run_number": "1"}) for n in names]
    mark = len(sched.events)
    began = time.perf_counter()
    await sched.send(control(request_id, items))
    results = await sched.results(request_id, after=mark)
    elapsed = time.perf_counter() - began
    failed = [r for r in results.results if not r.ok]
    assert not failed, failed[:3]
    return elapsed


async def run(tasks: int, rounds: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="o2-exec-bench-") as tmp:
        cluster = start_localmesos(
            "--agents", "1", "--heartbeat-interval", "1", "--allocation-interval", "0.1",
            log_dir=Path(tmp),
        )  # fmt: skip
        try:
            async with scheduler(cluster.address) as sched:
                names = [f"t{i}" for i in range(tasks)]
                began = time.perf_counter()
                await sched.launch(names)
                await _all(sched, names, "TASK_RUNNING")
                launch = time.perf_counter() - began
                per_event: dict[str, list[float]] = {e: [] for e in EVENTS}
                for r in range(rounds):
                    for event in EVENTS:
                        per_event[event].append(await _batch(sched, names, event, f"{event}{r}"))
                replay = await _batch(sched, names, "CONFIGURE", "CONFIGURE0")
                assert sched.agent_id is not None
                began = time.perf_counter()
                await sched.client.shutdown_executor(EXECUTOR_ID, sched.agent_id)
                await _all(sched, names, "TASK_KILLED")
                shutdown = time.perf_counter() - began
        finally:
            cluster.stop()
    return {
        "tasks": tasks,
        "rounds": rounds,
        "launch_to_all_running_s": launch,
        **{f"batch_{e.lower()}_ms_p50": statistics.median(v) * 1e3 for e, v in per_event.items()},
        "batch_replay_ms": replay * 1e3,
        "shutdown_all_killed_s": shutdown,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    result = asyncio.run(run(args.tasks, args.rounds))
    print(f"{'measure':<32} {'value':>12}")
    for key, value in result.items():
        shown = f"{value:.3f}" if isinstance(value, float) else str(value)
        print(f"{key:<32} {shown:>12}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
