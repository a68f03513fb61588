"""Status writer benchmark: CPU microseconds per Task status write on the task controller's path.

Every transition of N tasks costs N status writes (one per task answering), made by the task
controller's status writer (controller.tasks.writer): the change queued as a function of the
status, applied at write time to the informer's copy, the conditions and observedGeneration
added (controller.tasks.finish), the batched `update_status_many`, the answer sorted out.
This measures that path alone, on the in-memory store (no etcd, no Mesos), over N RUNNING tasks
of the environments benchmark's shape (hack.bench.informer_bench.running_task), in rounds that
move each task's desired state (CONFIGURED, RUNNING, ...) and then fold one executor answer
per task (`result_if_mine`), as a transition does:

- `write`: from queuing the N answers until every one is written (the writer and the store's
  batched write; the informer is held meanwhile, as a busy manager's watch lags its writes);
- `echo`: the informer then catching up with those writes until the writer sees them all
  (the store's decode and the informer, plus the writer's cache handler).

CPU seconds of this process (time.process_time), the least over the rounds (a busy machine
matters less), in microseconds per task.

`.venv/bin/python -m hack.bench.status_bench [--tasks N] [--rounds N] [--profile]` prints a
table and writes hack/bench/results/status_bench.json.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import functools
import pstats
import time
from collections.abc import AsyncIterator
from typing import Any, TypeVar

from controller.tasks import status as st
from controller.tasks.finish import StatusFinisher
from controller.tasks.writer import StatusWriter
from crds.kinds.task import Task
from crds.resource import Resource
from hack.bench.floor import write_json
from hack.bench.informer_bench import running_task
from mesosapi.o2messages import TransitionResult
from procutil.gc import tune_gc
from store.api import WatchEvent
from store.informer import Informer, InformerFactory
from store.memory import MemoryStore

R = TypeVar("R", bound=Resource)
TIMED: Any = None
WALK = (("STOP", "CONFIGURED"), ("START", "RUNNING"))
"""The transitions of the rounds, in turn (the tasks start RUNNING)."""


class HeldStore(MemoryStore):
    """Watch events reach the informer only while `open` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.open = asyncio.Event()
        self.open.set()

    async def watch(self, kind: type[R], *, start_revision: int) -> AsyncIterator[WatchEvent[R]]:
        async for event in super().watch(kind, start_revision=start_revision):
            await self.open.wait()
            yield event


class Timed:
    """CPU seconds spent in the writer's own steps of a write (taking a batch: applying the
    changes, finishing and comparing the statuses; sorting out the store's answer), which
    run without yielding (the store's write yields, so its CPU cannot be told apart so)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        for step in ("_take", "_sort_out"):
            setattr(StatusWriter, step, self._timed(getattr(StatusWriter, step)))

    def _timed(self, step: Any) -> Any:
        @functools.wraps(step)
        def timed(*args: Any, **kwargs: Any) -> Any:
            began = time.process_time()
            try:
                return step(*args, **kwargs)
            finally:
                self.seconds += time.process_time() - began

        return timed


async def _round(
    store: HeldStore, cache: Informer[Task], writer: StatusWriter, names: list[str], round_: int
) -> tuple[float, float, float]:
    event, state = WALK[round_ % len(WALK)]
    specs = [
        t.model_copy(update={"spec": t.spec.model_copy(update={"state": state})})
        for t in (cache.get(n) for n in names)
        if t is not None
    ]
    written = await store.update_many(specs)
    await cache.wait_for_revision(max(t.metadata.resource_version or 0 for t in written.written))
    left = len(names)
    done = asyncio.Event()

    def one_written() -> None:
        nonlocal left
        left -= 1
        if not left:
            done.set()

    store.open.clear()
    TIMED.seconds = 0.0
    began = time.process_time()
    for name in names:
        task = cache.get(name)
        assert task is not None and task.status.mesos_task_id
        result = TransitionResult(
            task_id=task.status.mesos_task_id,
            transition_id=st.transition_id(task, task.status.state or "", event),
            ok=True,
            state=state,
        )
        writer.patch(name, functools.partial(st.result_if_mine, result=result), then=one_written)
    await done.wait()
    wrote = time.process_time() - began
    in_writer = TIMED.seconds
    store.open.set()
    began = time.process_time()
    await writer.settled(names)
    echoed = time.process_time() - began
    for name in names:
        task = cache.get(name)
        assert task is not None and task.status.state == state, (name, task and task.status)
    return wrote, echoed, in_writer


async def measure(tasks: int, rounds: int, *, profile: bool = False) -> dict[str, Any]:
    store = HeldStore()
    informers = InformerFactory(store)
    cache = informers.informer(Task)
    informers.start()
    await informers.wait_synced()
    created = await store.create_many([running_task(i) for i in range(tasks)])
    stored = await store.update_status_many(
        [
            c.model_copy(update={"status": running_task(i).status})
            for i, c in enumerate(created.written)
        ]
    )
    await cache.wait_for_revision(max(t.metadata.resource_version or 0 for t in stored.written))
    names = [t.name for t in stored.written]
    writer = StatusWriter(lambda: store, cache, finish=StatusFinisher(lambda name: None))
    runner = asyncio.create_task(writer.run())
    profiler = cProfile.Profile() if profile else None
    writes: list[float] = []
    echoes: list[float] = []
    stores: list[float] = []
    try:
        for round_ in range(rounds):
            if profiler is not None:
                profiler.enable()
            wrote, echoed, in_writer = await _round(store, cache, writer, names, round_)
            if profiler is not None:
                profiler.disable()
            writes.append(wrote)
            echoes.append(echoed)
            stores.append(in_writer)
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
        await informers.stop()
    if profiler is not None:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)
    return {
        "tasks": tasks,
        "rounds": rounds,
        "write_us": min(writes) / tasks * 1e6,
        "echo_us": min(echoes) / tasks * 1e6,
        "writer_us": min(stores) / tasks * 1e6,
        "write_s": writes,
        "echo_s": echoes,
        "writer_s": stores,
    }


def print_table(r: dict[str, Any]) -> None:
    print(
        f"{'tasks':>6}  {'write us/task':>13}  {'writer steps':>12}  "
        f"{'echo us/task':>12}  (least of {r['rounds']})"
    )
    print(
        f"{r['tasks']:>6}  {r['write_us']:>13.1f}  {r['writer_us']:>12.1f}  {r['echo_us']:>12.1f}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--profile", action="store_true", help="cProfile the rounds (slower)")
    args = parser.parse_args(argv)
    tune_gc()  # as the manager runs
    global TIMED
    TIMED = Timed()
    result = asyncio.run(measure(args.tasks, args.rounds, profile=args.profile))
    print_table(result)
    if not args.profile:
        print(f"wrote {write_json('status_bench', result)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
