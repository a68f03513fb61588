"""The cost of one offer round of the task controller, without a stack: N pending Tasks pinned
to A detectors (two roles each, as hack.bench.environments_bench deploys), M offers a round.

    .venv/bin/python -m hack.bench.offers_bench [--sizes 10000,50000] [--agents 500]
        [--offers 10] [--rounds 5]

The parts of the task framework (status writer, roster, backlog, offer book) on the in-memory
store, with the in-memory Mesos fake. Two kinds of round, each timed wall-clock:
idle: offers from agents none of the pending tasks is pinned to (what an agent re-offering its
leftovers after its tasks launched costs; it used to look at every pending task), and
placing: offers from agents whose tasks are pending (launch status writes and ACCEPTs
included; `placed` tasks launched, and the round's CPU per task launched), and (`--due`) due:
every agent offers after its tasks have waited past `unplaced_grace` (one round of small offers
found each shape full), so the round's limit leaves most of them untried (a 50,000-task deploy
past its first seconds; such a round viewed every waiting task, to report none). Every call is
encoded to its wire JSON, as the real client does. Also the longest the event loop went
without a turn during a round (a ticker every 5 ms measures it). BENCH_PROFILE=1 prints a
cProfile of the rounds (the top BENCH_PROFILE_TOP entries, 25 by default, by cumulative time).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import time
from dataclasses import dataclass

from controller.mesos import FakeSchedulerClient
from controller.tasks.backlog import Backlog
from controller.tasks.base import FINALIZER, FrameworkConfig, Link
from controller.tasks.inflight import LaunchesInFlight
from controller.tasks.launch import LaunchConfig, executor_info
from controller.tasks.offers import OfferBook
from controller.tasks.roster import Roster
from controller.tasks.shared import Shared
from controller.tasks.writer import StatusWriter
from crds.kinds.common import Command, Constraint, Wants
from crds.kinds.node import Node
from crds.kinds.task import Task, TaskSpec, TaskStatus
from crds.meta import ObjectMeta
from crds.resource import Resource
from mesosapi.models import AgentId, Attribute, FrameworkId, Offer, OfferId, Text
from mesosapi.resources import ranges, scalar
from mesosapi.scheduler import SchedulerCall, Subscribed, encode_call
from procutil.gc import tune_gc
from store.informer import Informer, InformerFactory
from store.memory import MemoryStore


class _EncodingFake(FakeSchedulerClient):
    """The in-memory fake, encoding each call's body as the HTTP client does."""

    async def call(self, call: SchedulerCall) -> None:
        json.dumps(encode_call(call, framework_id=FrameworkId("fw")))
        await super().call(call)


class _NoEvents:
    def event(
        self, obj: Resource, *, reason: str, message: str = "", warning: bool = False
    ) -> None:
        return None


def _task(i: int, detector: str, role: str) -> Task:
    spec = TaskSpec(
        task_class=role,
        command=Command(value="/bin/true"),
        control="direct",
        wants=Wants(cpus=0.1, memory=64 if role == "readout" else 128, ports=1),
        constraints=(Constraint(attribute="detector", value=detector),),
    )
    meta = ObjectMeta(name=f"{detector}-{role}-{i}", finalizers=(FINALIZER,))
    return Task(metadata=meta, spec=spec)


def _offer(agent: int, round_no: int) -> Offer:
    return Offer(
        id=OfferId(f"o{agent}-{round_no}"),
        framework_id=FrameworkId("fw"),
        agent_id=AgentId(f"a{agent}"),
        hostname=f"host-{agent}",
        resources=[scalar("cpus", 10000), scalar("mem", 1e7), ranges("ports", [(31000, 33000)])],
        attributes=[Attribute(name="detector", type="TEXT", text=Text(value=f"d{agent:03}"))],
    )


@dataclass
class Row:
    size: int
    kind: str
    pending: int
    seconds: float
    cpu: float
    stall: float
    placed: int
    """Tasks launched by the round (their status written, their ACCEPT sent)."""


async def _ticker(longest: list[float]) -> None:
    loop = asyncio.get_running_loop()
    last = loop.time()
    while True:
        await asyncio.sleep(0.005)
        now = loop.time()
        longest[0] = max(longest[0], now - last)
        last = now


def _parts(
    store: MemoryStore, cache: Informer[Task], nodes: Informer[Node], *, unplaced_grace: float = 1.0
) -> tuple[OfferBook, asyncio.Task[None], Backlog]:
    def finish(task: Task, status: TaskStatus, now: object) -> TaskStatus:
        return status

    def written(before: Task, after: Task) -> None:
        backlog.track(after.name, after)

    writer = StatusWriter(lambda: store, cache, finish=finish, on_written=written)
    launches = LaunchesInFlight()
    roster = Roster(cache, writer, launches)
    backlog = Backlog(cache, roster)
    cache.add_handler(lambda event: backlog.track(event.name, event.new))
    link = Link()
    fake = _EncodingFake()
    link.attach(fake)
    fake.push(Subscribed(framework_id=FrameworkId("fw")))
    config = FrameworkConfig(
        masters=("fake",),
        launch=LaunchConfig(executor_command="x"),
        unoffered_grace=3600.0,  # the agents here offer once: in a stack they come back
        unplaced_grace=unplaced_grace,
    )
    shared = Shared(
        config=config,
        link=link,
        roster=roster,
        writer=writer,
        events=_NoEvents(),
        executor=executor_info(config.launch),
        wake=lambda *names, every=False: None,
    )
    book = OfferBook(shared, backlog=backlog, nodes=nodes, launches=launches)
    return book, asyncio.create_task(writer.run()), backlog


async def _bench(size: int, agents: int, offers: int, rounds: int, *, due: bool) -> list[Row]:
    store = MemoryStore()
    informers = InformerFactory(store)
    cache = informers.informer(Task)
    nodes = informers.informer(Node)
    informers.start()
    await informers.wait_synced()
    per = size // (2 * agents)
    book, writer_loop, backlog = _parts(store, cache, nodes, unplaced_grace=0.2 if due else 1.0)
    await book.on_offers([_offer(a, -1) for a in range(agents)])  # every agent has offered
    tasks = [
        _task(i, f"d{a:03}", role)
        for a in range(agents)
        for role in ("readout", "stfb")
        for i in range(per)
    ]
    for start in range(0, len(tasks), 1000):
        await store.create_many(tasks[start : start + 1000])
    while len(cache.names()) < len(tasks):  # noqa: ASYNC110 - the informer has no such event
        await asyncio.sleep(0.05)

    longest = [0.0]
    ticker = asyncio.create_task(_ticker(longest))
    rows: list[Row] = []
    profile = cProfile.Profile(time.process_time) if os.environ.get("BENCH_PROFILE") else None
    idle = [_offer(agents + k, 0) for k in range(offers)]  # agents no task is pinned to
    plan = _due_rounds(agents, rounds) if due else _rounds(agents, offers, rounds, idle)
    for kind, round_offers in plan:
        if kind == "full":  # each shape found full: its other tasks start waiting
            await book.on_offers(round_offers)
            await asyncio.sleep(0.3)  # past unplaced_grace: due
            continue
        pending = len(backlog.pending())
        await asyncio.sleep(0.01)
        longest[0] = 0.0
        began, cpu = time.perf_counter(), time.process_time()
        if profile is not None:
            profile.enable()
        await book.on_offers(round_offers)
        if profile is not None:
            profile.disable()
        seconds, cpu = time.perf_counter() - began, time.process_time() - cpu
        await asyncio.sleep(0.006)
        placed = pending - len(backlog.pending())
        rows.append(Row(size, kind, pending, seconds, cpu, longest[0], placed))
    ticker.cancel()
    writer_loop.cancel()
    await asyncio.gather(ticker, writer_loop, return_exceptions=True)
    await informers.stop()
    if profile is not None:
        pstats.Stats(profile).sort_stats(
            os.environ.get("BENCH_PROFILE_SORT", "cumulative")
        ).print_stats(int(os.environ.get("BENCH_PROFILE_TOP", "25")))
    return rows


Rounds = list[tuple[str, list[Offer]]]


def _rounds(agents: int, offers: int, rounds: int, idle: list[Offer]) -> Rounds:
    out: Rounds = []
    for r in range(rounds):
        out += [
            ("idle", [o.model_copy(update={"id": OfferId(f"{o.id}-{r}")}) for o in idle]),
            ("placing", [_offer((r * offers + k) % agents, r) for k in range(offers)]),
            ("idle", [o.model_copy(update={"id": OfferId(f"{o.id}-{r}b")}) for o in idle]),
        ]
    return out


def _due_rounds(agents: int, rounds: int) -> Rounds:
    """Every agent offers room for one task of 64 MB (with the executor's 32 MB), then every
    agent offers all it has, `rounds` times."""
    small = [scalar("cpus", 1), scalar("mem", 96), ranges("ports", [(31000, 31010)])]
    full = [_offer(a, 0).model_copy(update={"resources": small}) for a in range(agents)]
    return [("full", full)] + [
        ("due", [_offer(a, r) for a in range(agents)]) for r in range(1, rounds + 1)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10000,50000")
    parser.add_argument("--agents", type=int, default=500)
    parser.add_argument("--offers", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--due", action="store_true", help="due rounds (see above), not idle/placing"
    )
    args = parser.parse_args()
    tune_gc()  # the collector as the manager sets it: its passes are part of a round's cost
    print(
        f"{'tasks':>7} {'round':>8} {'pending':>8} {'ms':>9} {'cpu ms':>9} {'stall ms':>9}"
        f" {'placed':>7} {'cpu us/task':>12}"
    )
    for size in (int(s) for s in args.sizes.split(",")):
        for row in asyncio.run(_bench(size, args.agents, args.offers, args.rounds, due=args.due)):
            print(
                f"{row.size:>7} {row.kind:>8} {row.pending:>8} {row.seconds * 1000:>9.1f}"
                f" {row.cpu * 1000:>9.1f} {row.stall * 1000:>9.1f} {row.placed:>7}"
                f" {row.cpu * 1e6 / row.placed if row.placed else 0.0:>12.1f}"
            )


if __name__ == "__main__":
    main()
