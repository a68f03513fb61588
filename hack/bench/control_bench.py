"""The task controller's control path alone: CPU per task of a transition, in one process.

    .venv/bin/python -m hack.bench.control_bench [--tasks 10000] [--agents 50] [--repeat 3]

N Tasks already Running in STANDBY (their status written as the framework would have) in the
in-memory store, the real TaskFramework on the in-memory Mesos fake, whose MESSAGEs are answered
at once as the hollow agents' responder does (every item ok, in its target state). Then the
walk CONFIGURE, START, STOP: every spec.state set in 128-object batches (as the environment
controller writes them) and timed until every cached status shows the new state; then the
answers to one periodic explicit reconciliation (RECONCILE: a TASK_RUNNING per task that
changes nothing) and to one round of task tables (TABLES: each agent's, every row as its
task's status); last, START+PERIODIC: START again with the answers held until a reconciliation
round and the timed thorough pass went by (its last column: the status writes, N at best).
What is timed
is the path of issue 21's h24c: spec changes into the framework (_on_task_change), control
passes, the ControlRequest MESSAGEs, the executors' answers decoded and their status writes
queued (plus the status writer and the in-memory store, the same in both runs compared). CPU is
this process's (time.process_time), steady on a shared machine; compare runs of two trees.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Sequence
from typing import Any

from controller.mesos import FakeSchedulerClient
from controller.runtime.reconciler import Context
from controller.tasks.base import FINALIZER
from controller.tasks.facts import ProcessFacts, encode_facts
from controller.tasks.framework import FrameworkConfig, TaskFramework
from controller.tasks.launch import LaunchConfig
from crds.kinds.common import Command, Wants
from crds.kinds.node import Node
from crds.kinds.task import Task, TaskSpec, TaskStatus
from crds.meta import ObjectMeta
from crds.resource import Resource
from mesosapi.models import AgentId, ExecutorId, FrameworkId, TaskId
from mesosapi.models import TaskStatus as MesosStatus
from mesosapi.o2messages import (
    ControlRequest,
    ControlResults,
    TaskReport,
    TaskTableReport,
    TransitionResult,
    decode_to_executor,
    encode,
)
from mesosapi.scheduler import (
    Message,
    MessageCall,
    SchedulerCall,
    SchedulerEvent,
    Subscribed,
    Update,
)
from procutil.gc import tune_gc
from store.informer import CacheEvent, Informer, InformerFactory
from store.memory import MemoryStore

BATCH = 128
AFTER = {"CONFIGURE": "CONFIGURED", "START": "RUNNING", "STOP": "CONFIGURED"}
WALK = (("CONFIGURE", "CONFIGURED"), ("START_ACTIVITY", "RUNNING"), ("STOP_ACTIVITY", "CONFIGURED"))
MEANWHILE = "START+PERIODIC"


class _Events:
    def event(
        self, obj: Resource, *, reason: str, message: str = "", warning: bool = False
    ) -> None:
        return None


class AnsweringClient(FakeSchedulerClient):
    """The fake master with hollow executors behind it: each ControlRequest MESSAGE is answered
    with one ControlResults MESSAGE, every transition ok (the responder of tasks_bench)."""

    messages = 0
    held: list[tuple[MessageCall, ControlRequest]] | None = None
    """While a list: the requests are kept there unanswered (release() answers them)."""

    async def call(self, call: SchedulerCall) -> None:
        await super().call(call)
        if isinstance(call, MessageCall):
            AnsweringClient.messages += 1
            request = decode_to_executor(call.data)
            if isinstance(request, ControlRequest):
                if self.held is not None:
                    self.held.append((call, request))
                else:
                    asyncio.get_running_loop().call_soon(self._answer, call, request)
        self.calls.clear()  # nothing reads them: keep memory flat

    def release(self) -> None:
        held, self.held = self.held or [], None
        for call, request in held:
            self._answer(call, request)

    def _answer(self, call: MessageCall, request: ControlRequest) -> None:
        results = tuple(
            TransitionResult(
                task_id=i.task_id,
                transition_id=i.transition_id,
                ok=True,
                state=AFTER.get(i.event, i.src_state),
            )
            for i in request.items
        )
        reply = ControlResults(request_id=request.request_id, results=results)
        self.push(Message(agent_id=call.agent_id, executor_id=call.executor_id, data=encode(reply)))


def running_task(i: int, agents: int) -> Task:
    name = f"t{i:06d}"
    spec = TaskSpec(
        task_class="bench",
        command=Command(value="/bin/true"),
        wants=Wants(cpus=0.01, memory=16),
        state="STANDBY",
        properties={"rate": "100", "detector": f"d{i % agents:02d}"},
    )
    meta = ObjectMeta(name=name, finalizers=(FINALIZER,))
    return Task(metadata=meta, spec=spec)


def running_status(task: Task, i: int, agents: int) -> Task:
    status = TaskStatus(
        phase="Running",
        state="STANDBY",
        agent_id=f"a{i % agents:02d}",
        hostname=f"host{i % agents:02d}",
        pid=1000 + i,
        mesos_task_id=f"{task.name}.l1",
        executor_id="o2-executor",
    )
    return task.model_copy(update={"status": status})


async def _until(check: Any, *, within: float) -> None:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError("the transition did not finish")
        await asyncio.sleep(0.01)


async def run(tasks: int, agents: int) -> dict[str, tuple[float, float, int]]:
    store = MemoryStore()
    informers = InformerFactory(store)
    ctx = Context(store=store, kv=store, informers=informers, events=_Events())
    cache = informers.informer(Task)
    informers.informer(Node)
    informers.start()
    await informers.wait_synced()
    created = [running_task(i, agents) for i in range(tasks)]
    for start in range(0, tasks, BATCH):
        await store.create_many(created[start : start + BATCH])
    stored = [await store.get(Task, t.name) for t in created]
    for start in range(0, tasks, BATCH):
        chunk = stored[start : start + BATCH]
        await store.update_status_many(
            [running_status(t, start + k, agents) for k, t in enumerate(chunk)]
        )
    await _until(lambda: _all(cache.list(), "STANDBY"), within=600)
    fake = AnsweringClient()
    config = FrameworkConfig(masters=("fake",), launch=LaunchConfig(executor_command="x"))
    framework = TaskFramework(ctx, config, client_factory=lambda _fid: fake)
    runner = asyncio.create_task(framework.run())
    fake.push(Subscribed(framework_id=FrameworkId("bench")))
    await asyncio.sleep(0.5)
    rows: dict[str, tuple[float, float, int]] = {}
    waiting: set[str] = set()
    target = [""]
    done = asyncio.Event()

    def arrived(event: CacheEvent[Task]) -> None:
        new = event.new
        if new is not None and new.status.state == target[0] == new.spec.state:
            waiting.discard(event.name)
            if not waiting:
                done.set()

    cache.add_handler(arrived)
    try:
        for transition, state in WALK:
            current = sorted(cache.list(), key=lambda t: t.name)
            waiting.update(t.name for t in current)
            target[0] = state
            done.clear()
            cpu0, wall0 = time.process_time(), time.monotonic()
            sent0 = AnsweringClient.messages
            for start in range(0, tasks, BATCH):
                chunk = current[start : start + BATCH]
                await store.update_many([_with_state(t, state) for t in chunk])
            async with asyncio.timeout(600):
                await done.wait()
            cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
            rows[transition] = (cpu, wall, AnsweringClient.messages - sent0)
            await asyncio.sleep(0.3)
        rows["RECONCILE"] = await _reconciliation(fake, cache, cache.list())
        rows["TABLES"] = await _tables(fake, cache, cache.list(), agents)
        target[0] = "RUNNING"
        rows[MEANWHILE] = await _start_meanwhile(
            framework, fake, store, cache=cache, waiting=waiting, done=done
        )
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
        await informers.stop()
    return rows


async def _start_meanwhile(
    framework: TaskFramework,
    fake: AnsweringClient,
    store: MemoryStore,
    *,
    cache: Informer[Task],
    waiting: set[str],
    done: asyncio.Event,
) -> tuple[float, float, int]:
    """START again (from CONFIGURED), with the executors' answers held until a periodic
    reconciliation's answers (a TASK_RUNNING per task, saying nothing new) and the timed
    thorough pass came in between, as at 50,000 tasks (every 60 s) they fall inside START;
    timed until every status shows RUNNING. The third column: the status writes made. It
    reaches inside the framework (the writer's count, the fake's queue, a pass made now as
    the timed thorough one): nothing public makes that pass at a chosen moment."""
    current = sorted(cache.list(), key=lambda t: t.name)
    waiting.update(t.name for t in current)
    done.clear()
    writes0 = framework._writer.writes  # noqa: SLF001
    fake.held = []
    cpu0, wall0 = time.process_time(), time.monotonic()
    for start in range(0, len(current), BATCH):
        chunk = current[start : start + BATCH]
        await store.update_many([_with_state(t, "RUNNING") for t in chunk])
    await _until(lambda: sum(len(r.items) for _, r in fake.held or ()) >= len(current), within=600)
    for task in current:
        fake.push(_running_update(task, task.status.pid or 0))
    await _until(fake._queue.empty, within=600)  # noqa: SLF001 (every update taken)
    await asyncio.sleep(0.05)
    loop = asyncio.get_running_loop()
    every = framework._to_plan(None, now=loop.time() + 3600.0)  # noqa: SLF001
    await framework._control.control_pass(every)  # noqa: SLF001
    fake.release()
    async with asyncio.timeout(600):
        await done.wait()
    cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    await asyncio.sleep(0.5)  # the last batch's write is counted once its answer is in
    return cpu, wall, framework._writer.writes - writes0  # noqa: SLF001


async def _reconciliation(
    fake: AnsweringClient, cache: Informer[Task], tasks: list[Task]
) -> tuple[float, float, int]:
    """The master's answer to a periodic explicit reconciliation: one TASK_RUNNING (no uuid,
    the process's launch facts) per task, each saying what its status says already; timed
    until an update behind them that does change a status (a new pid) is in the cache."""
    last = tasks[-1]
    pid = (last.status.pid or 0) + 1
    updates = [_running_update(task, task.status.pid or 0) for task in tasks]
    updates.append(_running_update(last, pid))
    return await _pushed_until_pid(fake, cache, updates, pid)


async def _tables(
    fake: AnsweringClient, cache: Informer[Task], tasks: list[Task], agents: int
) -> tuple[float, float, int]:
    """Each agent's executor's periodic task table, every row saying what its task's status
    says; timed until a row behind them that does change a status (a new pid) is in the
    cache."""
    last = tasks[-1]
    pid = (last.status.pid or 0) + 2
    rows: dict[str, list[TaskReport]] = {}
    for task in tasks:
        rows.setdefault(task.status.agent_id or "", []).append(_row(task, task.status.pid))
    rows[last.status.agent_id or ""].append(_row(last, pid))
    messages = [
        Message(
            agent_id=AgentId(agent),
            executor_id=ExecutorId("o2-executor"),
            data=encode(TaskTableReport(sequence=1, tasks=tuple(reports))),
        )
        for agent, reports in rows.items()
    ]
    return await _pushed_until_pid(fake, cache, messages, pid)


async def _pushed_until_pid(
    fake: AnsweringClient, cache: Informer[Task], events: Sequence[SchedulerEvent], pid: int
) -> tuple[float, float, int]:
    """CPU and wall seconds from pushing `events` until a Task with `pid` is in the cache."""
    seen = asyncio.Event()

    def arrived(event: CacheEvent[Task]) -> None:
        if event.new is not None and event.new.status.pid == pid:
            seen.set()

    cache.add_handler(arrived)
    cpu0, wall0 = time.process_time(), time.monotonic()
    for event in events:
        fake.push(event)
    async with asyncio.timeout(600):
        await seen.wait()
    return time.process_time() - cpu0, time.monotonic() - wall0, 0


def _row(task: Task, pid: int | None) -> TaskReport:
    status = task.status
    return TaskReport(
        task_id=status.mesos_task_id or "",
        control="direct",
        phase="running",
        state=status.state or "",
        pid=pid,
        last_transition_id=status.last_transition_id or "",
    )


def _running_update(task: Task, pid: int) -> Update:
    return Update(
        status=MesosStatus(
            task_id=TaskId(task.status.mesos_task_id or ""),
            state="TASK_RUNNING",
            agent_id=AgentId(task.status.agent_id or ""),
            data=encode_facts(ProcessFacts(pid=pid, occ_state="STANDBY")),
            reason="REASON_RECONCILIATION",
        )
    )


def _with_state(task: Task, state: str) -> Task:
    return task.model_copy(update={"spec": task.spec.model_copy(update={"state": state})})


def _all(tasks: list[Task], state: str) -> bool:
    return all(t.status.state == state and t.spec.state == state for t in tasks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=10000)
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    tune_gc()  # as the manager does
    runs = [asyncio.run(run(args.tasks, args.agents)) for _ in range(args.repeat)]
    print(f"tasks {args.tasks}, agents {args.agents}, median of {args.repeat} runs")
    print(f"{'transition':16} {'cpu s':>7} {'wall s':>7} {'cpu us/task':>12} {'MESSAGEs':>9}")
    for transition in [t for t, _ in WALK] + ["RECONCILE", "TABLES", MEANWHILE]:
        cpu = statistics.median(r[transition][0] for r in runs)
        wall = statistics.median(r[transition][1] for r in runs)
        sent = statistics.median(r[transition][2] for r in runs)
        print(f"{transition:16} {cpu:7.2f} {wall:7.2f} {cpu / args.tasks * 1e6:12.1f} {sent:9.0f}")


if __name__ == "__main__":
    main()
