"""CPU the scheduler client spends per call (ACKNOWLEDGE, MESSAGE), against the local cluster.

    .venv/bin/python -m hack.bench.mesos_calls_bench [--tasks 2000] [--agents 10] [--rounds 3]

Launches `--tasks` tasks on hollow agents and ACKs their updates, then times bursts of calls
through the client's own paths: the ACK pool (`acknowledge_soon` + `drain_acks`, each status
ACKed again: Mesos answers 202 to a repeated ACK and the agent drops it) and MESSAGE calls to the
tasks' executors, `--acks` in flight. The figure is this process's CPU (user + system) per call,
the median over `--rounds` bursts; the cluster's CPU is printed apart. Writes
hack/bench/results/mesos_calls_bench.json.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from controller.mesos import SchedulerClient
from hack.bench.cpu import cpu_seconds
from hack.bench.mesos_bench import free_port, plan_tasks, start_cluster, stop_cluster, wait_ready
from mesosapi.backoff import Backoff
from mesosapi.models import AgentId, ExecutorId, Offer, TaskStatus
from mesosapi.scheduler import Offers, Update, framework_info

ROOT = Path(__file__).resolve().parents[2]
RESULTS = Path(__file__).resolve().parent / "results" / "mesos_calls_bench.json"


class Collector:
    """Offers and the latest uuid-carrying update of each task (ACKed as they come)."""

    def __init__(self, client: SchedulerClient) -> None:
        self.client = client
        self.offers: list[Offer] = []
        self.running: dict[str, TaskStatus] = {}
        self.changed = asyncio.Event()

    async def consume(self) -> None:
        async for event in self.client.events():
            if isinstance(event, Update):
                if event.status.state == "TASK_RUNNING":
                    self.running[event.status.task_id] = event.status
                self.client.acknowledge_soon(event.status)
            elif isinstance(event, Offers):
                self.offers.extend(event.offers)
            self.changed.set()

    async def until(self, cond: object) -> None:
        assert callable(cond)
        while not cond():
            self.changed.clear()
            await self.changed.wait()


async def _launch(col: Collector, tasks: int, agents: int) -> None:
    await asyncio.wait_for(col.until(lambda: len({o.agent_id for o in col.offers}) >= agents), 30)
    offers = {o.agent_id: o for o in col.offers}
    per_agent = -(-tasks // len(offers))
    ids = [f"calls-{i:06d}" for i in range(tasks)]
    for i, offer in enumerate(offers.values()):
        plan = plan_tasks(offer, ids[i * per_agent : (i + 1) * per_agent])
        await col.client.launch([offer.id], plan, refuse_seconds=3600)
    await asyncio.wait_for(col.until(lambda: len(col.running) >= tasks), 120)
    await col.client.drain_acks()


async def _ack_burst(client: SchedulerClient, statuses: list[TaskStatus]) -> float:
    own0 = time.process_time()
    for status in statuses:
        client.acknowledge_soon(status)
    await client.drain_acks()
    return (time.process_time() - own0) / len(statuses)


async def _message_burst(client: SchedulerClient, statuses: list[TaskStatus], limit: int) -> float:
    sem = asyncio.Semaphore(limit)

    async def one(agent: AgentId, executor: ExecutorId) -> None:
        async with sem:
            await client.message(agent, executor, b"ping")

    targets = [(s.agent_id, s.executor_id) for s in statuses if s.agent_id and s.executor_id]
    own0 = time.process_time()
    await asyncio.gather(*(one(a, e) for a, e in targets))
    return (time.process_time() - own0) / max(1, len(targets))


async def run(*, tasks: int, agents: int, acks: int, rounds: int) -> dict[str, object]:
    port = free_port()
    master = f"127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="o2-mesos-calls-") as tmp:
        proc = start_cluster(port, agents, Path(tmp))
        try:
            await wait_ready(master, proc)
            info = framework_info("o2-calls-bench", user=getpass.getuser(), failover_timeout=60)
            client = SchedulerClient(
                master, info, backoff=Backoff(initial=0.2, maximum=1.0), ack_concurrency=acks
            )
            async with client:
                col = Collector(client)
                consumer = asyncio.create_task(col.consume())
                await _launch(col, tasks, agents)
                statuses = list(col.running.values())
                ack_us: list[float] = []
                msg_us: list[float] = []
                cluster0 = cpu_seconds(proc.pid)
                for _ in range(rounds):
                    ack_us.append(1e6 * await _ack_burst(client, statuses))
                cluster1 = cpu_seconds(proc.pid)
                for _ in range(rounds):
                    msg_us.append(1e6 * await _message_burst(client, statuses, acks))
                await client.teardown()
                consumer.cancel()
                await asyncio.gather(consumer, return_exceptions=True)
        finally:
            stop_cluster(proc)
    return {
        "tasks": tasks,
        "ack_calls_per_round": len(statuses),
        "rounds": rounds,
        "in_flight": acks,
        "client_cpu_us_per_ack": statistics.median(ack_us),
        "client_cpu_us_per_ack_rounds": [round(x, 1) for x in ack_us],
        "client_cpu_us_per_message": statistics.median(msg_us),
        "client_cpu_us_per_message_rounds": [round(x, 1) for x in msg_us],
        "cluster_cpu_us_per_ack": 1e6 * (cluster1 - cluster0) / (rounds * len(statuses)),
        "loadavg_1m": os.getloadavg()[0],
        "note": "shared 2-core machine; CPU per call is steadier than wall time",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--agents", type=int, default=10)
    parser.add_argument("--acks", type=int, default=16, help="calls in flight (the ACK pool)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    result = asyncio.run(
        run(tasks=args.tasks, agents=args.agents, acks=args.acks, rounds=args.rounds)
    )
    for key in ("client_cpu_us_per_ack", "client_cpu_us_per_message", "cluster_cpu_us_per_ack"):
        print(f"{key:<28} {result[key]:>8.1f}")
    print(f"{'load average (1 min)':<28} {result['loadavg_1m']:>8.2f}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwritten {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
