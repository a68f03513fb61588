"""Launch rate and status-update throughput of o2's Mesos scheduler client, end to end through
the local cluster with hollow agents; also the cluster's CPU cost per 1,000 tasks.

    .venv/bin/python -m hack.bench.mesos_bench [--tasks 5000] [--agents 50] [--acks 32]

Phases: (1) one ACCEPT per offer carrying all of that agent's LAUNCHes, until every task is
TASK_RUNNING (each RUNNING update ACKed, as o2 must); (2) KILL every task until every
TASK_KILLED is received and ACKed. Prints a table and writes hack/bench/results/mesos_bench.json.
Numbers are from a shared 2-core machine: noisy, compare runs on the same box only.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from controller.mesos import SchedulerClient
from mesosapi.backoff import Backoff
from mesosapi.models import (
    CommandInfo,
    ExecutorId,
    ExecutorInfo,
    Offer,
    TaskId,
    TaskInfo,
)
from mesosapi.resources import Demand, ResourcePool, scalar
from mesosapi.scheduler import Offers, Subscribed, Update, framework_info

ROOT = Path(__file__).resolve().parents[2]
RESULTS = Path(__file__).resolve().parent / "results" / "mesos_bench.json"
TASK = Demand(cpus=0.01, mem=1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_cluster(port: int, agents: int, workdir: Path) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "localmesos", "--port", str(port), "--agents", "0"]
    argv += ["--hollow-agents", str(agents)]
    with (workdir / "localmesos.log").open("wb") as log_file:
        return subprocess.Popen(
            argv,
            cwd=workdir,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


async def wait_ready(master: str, proc: subprocess.Popen[bytes]) -> None:
    async with aiohttp.ClientSession() as s, asyncio.timeout(30):
        while True:
            if proc.poll() is not None:
                raise RuntimeError("localmesos exited; see its log")
            try:
                async with s.get(f"http://{master}/version") as r:
                    if r.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)


def stop_cluster(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the cluster (it stops its executors), SIGKILL after 15 s."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


EXECUTOR = ExecutorInfo(
    executor_id=ExecutorId("o2-bench"),
    type="CUSTOM",
    command=CommandInfo(value="/bin/true", shell=False, arguments=["true"]),
    resources=[scalar("cpus", 0.01), scalar("mem", 32)],
)


def plan_tasks(offer: Offer, task_ids: list[str]) -> list[TaskInfo]:
    pool = ResourcePool(offer.resources)
    if "o2-bench" not in offer.executor_ids:
        pool.take(Demand(cpus=0.01, mem=32))
    out: list[TaskInfo] = []
    for tid in task_ids:
        got = pool.take(TASK)
        if got is None:
            break
        out.append(
            TaskInfo(
                name=tid,
                task_id=TaskId(tid),
                agent_id=offer.agent_id,
                resources=got.resources,
                executor=EXECUTOR,
            )
        )
    return out


@dataclass
class Tracker:
    """Counts updates by state and ACKs each through the client's ACK pipeline."""

    client: SchedulerClient
    seen: dict[str, int] = field(default_factory=dict)
    last: dict[str, float] = field(default_factory=dict)
    offers: list[Offer] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def consume(self) -> None:
        async for event in self.client.events():
            if isinstance(event, Update):
                state = event.status.state
                self.seen[state] = self.seen.get(state, 0) + 1
                self.last[state] = time.perf_counter()
                self.client.acknowledge_soon(event.status)
                self.changed.set()
            elif isinstance(event, Offers):
                self.offers.extend(event.offers)
                self.changed.set()
            elif isinstance(event, Subscribed):
                self.changed.set()

    async def until(self, cond: Callable[[], bool]) -> None:
        while not cond():
            self.changed.clear()
            await self.changed.wait()


async def _bounded(calls: Sequence[Awaitable[None]], limit: int) -> None:
    """Await `calls` (not yet started coroutines) with at most `limit` in flight."""
    sem = asyncio.Semaphore(limit)

    async def one(call: Awaitable[None]) -> None:
        async with sem:
            await call

    await asyncio.gather(*(one(c) for c in calls))


async def _launch_phase(tr: Tracker, tasks: int, agents: int) -> dict[str, float]:
    await asyncio.wait_for(tr.until(lambda: len({o.agent_id for o in tr.offers}) >= agents), 30)
    offers = {o.agent_id: o for o in tr.offers}
    per_agent = -(-tasks // len(offers))
    ids = [f"bench-{i:06d}" for i in range(tasks)]
    plans = [
        plan_tasks(o, ids[i * per_agent : (i + 1) * per_agent])
        for i, o in enumerate(offers.values())
    ]
    planned = sum(len(p) for p in plans)
    if planned < tasks:
        raise RuntimeError(f"offers hold only {planned} of {tasks} tasks")
    t0 = time.perf_counter()
    calls = [
        tr.client.launch([o.id], p, refuse_seconds=3600)
        for o, p in zip(offers.values(), plans, strict=True)
    ]
    await _bounded(calls, 16)
    t_accepted = time.perf_counter()
    await tr.until(lambda: tr.seen.get("TASK_RUNNING", 0) >= tasks)
    t_running = tr.last["TASK_RUNNING"]
    await tr.client.drain_acks()
    t_acked = time.perf_counter()
    return {
        "accept_s": t_accepted - t0,
        "running_s": t_running - t0,
        "acked_s": t_acked - t0,
        "launch_rate": tasks / (t_running - t0),
        "update_rate": tasks / (t_acked - t0),
    }


async def _kill_phase(tr: Tracker, tasks: int, concurrency: int) -> dict[str, float]:
    t0 = time.perf_counter()
    calls = [tr.client.kill(TaskId(f"bench-{i:06d}")) for i in range(tasks)]
    await _bounded(calls, concurrency)
    t_sent = time.perf_counter()
    await tr.until(lambda: tr.seen.get("TASK_KILLED", 0) >= tasks)
    await tr.client.drain_acks()
    t_done = time.perf_counter()
    return {
        "kill_calls_s": t_sent - t0,
        "killed_acked_s": t_done - t0,
        "kill_rate": tasks / (t_done - t0),
    }


async def run(*, tasks: int, agents: int, concurrency: int) -> dict[str, object]:
    port = free_port()
    master = f"127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="o2-mesos-bench-") as tmp:
        proc = start_cluster(port, agents, Path(tmp))
        try:
            await wait_ready(master, proc)
            info = framework_info("o2-bench", user=getpass.getuser(), failover_timeout=60)
            client = SchedulerClient(
                master,
                info,
                backoff=Backoff(initial=0.2, maximum=1.0),
                ack_concurrency=concurrency,
            )
            async with client:
                tr = Tracker(client)
                workers = [asyncio.create_task(tr.consume())]
                cpu0, own0 = _cpu_seconds(proc.pid), time.process_time()
                launch = await _launch_phase(tr, tasks, agents)
                cpu1, own1 = _cpu_seconds(proc.pid), time.process_time()
                kill = await _kill_phase(tr, tasks, concurrency)
                cpu2, own2 = _cpu_seconds(proc.pid), time.process_time()
                await client.teardown()
                for w in workers:
                    w.cancel()
                await asyncio.gather(*workers, return_exceptions=True)
        finally:
            stop_cluster(proc)
    per_k = 1000.0 / tasks
    return {
        "tasks": tasks,
        "hollow_agents": agents,
        "ack_concurrency": concurrency,
        "launch": launch,
        "kill": kill,
        "cluster_cpu_s_per_1k_launch": (cpu1 - cpu0) * per_k,
        "cluster_cpu_s_per_1k_kill": (cpu2 - cpu1) * per_k,
        "client_cpu_s_per_1k_launch": (own1 - own0) * per_k,
        "client_cpu_s_per_1k_kill": (own2 - own1) * per_k,
        "cpus": os.cpu_count(),
        "note": "shared 2-core machine; noisy",
    }


def _table(r: dict[str, object]) -> str:
    launch = r["launch"]
    kill = r["kill"]
    assert isinstance(launch, dict) and isinstance(kill, dict)
    rows = [
        ("tasks / hollow agents", f"{r['tasks']} / {r['hollow_agents']}"),
        ("ACCEPT calls sent (s)", f"{launch['accept_s']:.3f}"),
        ("all TASK_RUNNING received (s)", f"{launch['running_s']:.3f}"),
        ("launch rate, launched+RUNNING (tasks/s)", f"{launch['launch_rate']:.0f}"),
        ("RUNNING updates received+ACKed (updates/s)", f"{launch['update_rate']:.0f}"),
        ("KILL -> TASK_KILLED+ACKed (tasks/s)", f"{kill['kill_rate']:.0f}"),
        ("cluster CPU per 1k tasks, launch (s)", f"{r['cluster_cpu_s_per_1k_launch']:.3f}"),
        ("cluster CPU per 1k tasks, kill (s)", f"{r['cluster_cpu_s_per_1k_kill']:.3f}"),
        ("client CPU per 1k tasks, launch (s)", f"{r['client_cpu_s_per_1k_launch']:.3f}"),
        ("client CPU per 1k tasks, kill (s)", f"{r['client_cpu_s_per_1k_kill']:.3f}"),
    ]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v:>12}" for k, v in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--tasks", type=int, default=5000)
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--acks", type=int, default=32, help="ACK/KILL calls in flight")
    args = parser.parse_args()
    result = asyncio.run(run(tasks=args.tasks, agents=args.agents, concurrency=args.acks))
    print(_table(result))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwritten {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
