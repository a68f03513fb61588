"""The framework driver against the in-memory Mesos fake and store: which calls it makes."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Literal

import pytest

from controller.mesos import FakeSchedulerClient
from controller.runtime.finalizers import add_finalizer, remove_finalizer
from controller.runtime.reconciler import Context
from controller.tasks.base import FINALIZER
from controller.tasks.facts import ProcessFacts, encode_facts
from controller.tasks.framework import FrameworkConfig, TaskFramework
from controller.tasks.launch import LaunchConfig
from crds.kinds.node import Node
from crds.kinds.task import Task
from crds.resource import Resource
from mesosapi.models import AgentId, ExecutorId, FrameworkId, TaskId
from mesosapi.models import TaskStatus as MesosStatus
from mesosapi.o2messages import (
    ControlResults,
    TaskReport,
    TaskTableReport,
    TransitionResult,
    decode_to_executor,
    encode,
)
from mesosapi.scheduler import (
    Accept,
    Decline,
    Kill,
    Message,
    MessageCall,
    Offers,
    Reconcile,
    Revive,
    Subscribed,
    Suppress,
    Update,
)
from store.informer import Informer, InformerFactory
from store.memory import MemoryStore
from tests.tasks.harness import sample_task
from tests.tasks.test_placement import offer
from tests.waiting import eventually


@dataclass
class Recorder:
    reasons: list[tuple[str, str]] = field(default_factory=list)

    def event(
        self, obj: Resource, *, reason: str, message: str = "", warning: bool = False
    ) -> None:
        self.reasons.append((obj.metadata.name, reason))


@dataclass
class Rig:
    store: MemoryStore
    fake: FakeSchedulerClient
    framework: TaskFramework
    events: Recorder
    cache: Informer[Task]


class Gate(asyncio.Event):
    """A FakeSchedulerClient gate that also tells when a call has reached it and is held."""

    def __init__(self) -> None:
        super().__init__()
        self.reached = asyncio.Event()

    async def wait(self) -> Literal[True]:
        self.reached.set()
        return await super().wait()


@contextlib.asynccontextmanager
async def rigged(**config: float) -> AsyncIterator[Rig]:
    """The framework on the in-memory store and Mesos fake, running; `config`: timers."""
    store = MemoryStore()
    informers = InformerFactory(store)
    events = Recorder()
    ctx = Context(store=store, kv=store, informers=informers, events=events)
    cache = informers.informer(Task)
    informers.informer(Node)
    informers.start()
    await informers.wait_synced()
    fake = FakeSchedulerClient()
    settings = FrameworkConfig(
        masters=("fake",),
        launch=LaunchConfig(executor_command="o2-executor"),
        tick=0.02,
        **config,  # type: ignore[arg-type]
    )
    framework = TaskFramework(ctx, settings, client_factory=lambda _fid: fake)
    runner = asyncio.create_task(framework.run())
    try:
        yield Rig(store=store, fake=fake, framework=framework, events=events, cache=cache)
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
        await informers.stop()


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    async with rigged() as rig:
        yield rig


def owned(name: str, *, memory: int = 64) -> Task:
    """A Task as the driver sees it once the reconciler added the kill finalizer (only then
    may it be launched; the reconciler does not run in these tests)."""
    task = sample_task(name, memory=memory)
    meta = task.metadata.model_copy(update={"finalizers": (FINALIZER,)})
    return task.model_copy(update={"metadata": meta})


async def stored(rig: Rig, name: str) -> Task:
    return await rig.store.get(Task, name)


async def launch_two(rig: Rig) -> list[Task]:
    for name in ("a", "b"):
        await rig.store.create(owned(name))
    await eventually(lambda: len(rig.cache.names()) == 2)
    rig.fake.push(Subscribed(framework_id=FrameworkId("fw-1")))
    await eventually(lambda: bool(rig.fake.sent(Revive)))
    rig.fake.push(Offers(offers=[offer(1), offer(2)]))
    await eventually(lambda: bool(rig.fake.sent(Accept)))
    return [await stored(rig, "a"), await stored(rig, "b")]


def running(task: Task, state: str = "STANDBY") -> Update:
    data = encode_facts(ProcessFacts(pid=100, occ_state=state))
    assert task.status.mesos_task_id is not None
    return Update(
        status=MesosStatus(
            task_id=TaskId(task.status.mesos_task_id),
            state="TASK_RUNNING",
            agent_id=AgentId("a1"),
            uuid=b"0123456789abcdef",
            data=data,
        )
    )


async def test_one_accept_launches_many_tasks_after_their_status_is_written(rig: Rig) -> None:
    a, b = await launch_two(rig)
    accepts = rig.fake.sent(Accept)
    assert len(accepts) == 1
    accept = accepts[0]
    assert isinstance(accept, Accept)
    assert accept.offer_ids == ["o1"]
    infos = accept.operations[0].launch.task_infos  # type: ignore[union-attr]
    assert {i.task_id for i in infos} == {a.status.mesos_task_id, b.status.mesos_task_id}
    assert {i.executor.executor_id for i in infos} == {"o2-executor"}  # type: ignore[union-attr]
    assert (a.status.phase, a.status.agent_id, a.status.hostname) == ("Staging", "a1", "host-1")
    declined = rig.fake.sent(Decline)
    assert isinstance(declined[0], Decline) and declined[0].offer_ids == ["o2"]
    assert declined[0].filters is not None and declined[0].filters.refuse_seconds == 5.0
    assert await rig.store.get_raw(f"{rig.store.prefix}/runtime/mesos/framework-id") is not None


async def test_suppresses_offers_once_nothing_is_pending(rig: Rig) -> None:
    await launch_two(rig)
    await eventually(lambda: bool(rig.fake.sent(Suppress)))
    calls = [type(c).__name__ for c in rig.fake.calls if isinstance(c, Revive | Suppress)]
    assert calls == ["Revive", "Suppress"]
    rig.fake.push(Offers(offers=[offer(3)]))
    await eventually(lambda: len(rig.fake.sent(Decline)) == 2)
    idle = rig.fake.sent(Decline)[-1]
    assert isinstance(idle, Decline) and idle.filters is not None
    assert idle.filters.refuse_seconds == 60.0


async def test_a_filter_that_lands_after_a_revive_is_revived_away(rig: Rig) -> None:
    """The master may process a DECLINE sent before a REVIVE after it (other connection): the
    DECLINE's 60 s filter would then hold a task created meanwhile for a minute."""
    await launch_two(rig)
    await eventually(lambda: bool(rig.fake.sent(Suppress)))
    gate = rig.fake.gates[Decline] = Gate()
    rig.fake.push(Offers(offers=[offer(3)]))  # nothing pending: an idle decline, held
    await asyncio.wait_for(gate.reached.wait(), 5)
    await rig.store.create(owned("c"))
    await eventually(lambda: len(rig.fake.sent(Revive)) == 2)  # overtakes the decline
    gate.set()
    await eventually(lambda: len(rig.fake.sent(Decline)) == 2)
    kinds = [type(c) for c in rig.fake.calls if isinstance(c, Revive | Decline)]
    assert kinds[-2:] == [Revive, Decline]
    await eventually(lambda: len(rig.fake.sent(Revive)) == 3)
    kinds = [type(c) for c in rig.fake.calls if isinstance(c, Revive | Decline)]
    assert kinds[-1] is Revive


async def test_one_message_per_agent_carries_every_pending_transition(rig: Rig) -> None:
    a, b = await launch_two(rig)
    rig.fake.push(running(a))
    rig.fake.push(running(b))
    await eventually(lambda: len(rig.fake.calls) > 0 and _all_standby(rig))
    for name in ("a", "b"):
        task = await stored(rig, name)
        spec = task.spec.model_copy(update={"state": "RUNNING", "run_number": 3})
        await rig.store.update(task.model_copy(update={"spec": spec}))
    rig.framework.wake(every=True)
    await eventually(lambda: bool(rig.fake.sent(MessageCall)))
    messages = rig.fake.sent(MessageCall)
    assert len(messages) == 1
    msg = messages[0]
    assert isinstance(msg, MessageCall) and msg.agent_id == "a1"
    request = decode_to_executor(msg.data)
    events = sorted((i.task_id.split(".")[0], i.event) for i in request.items)  # type: ignore[union-attr]
    assert events == [("a", "CONFIGURE"), ("a", "START"), ("b", "CONFIGURE"), ("b", "START")]

    results = tuple(
        TransitionResult(task_id=i.task_id, transition_id=i.transition_id, ok=True, state="RUNNING")
        for i in request.items  # type: ignore[union-attr]
        if i.event == "START"
    )
    reply = ControlResults(request_id=request.request_id, results=results)  # type: ignore[union-attr]
    rig.fake.push(
        Message(agent_id=AgentId("a1"), executor_id=ExecutorId("o2-executor"), data=encode(reply))
    )
    await eventually(lambda: _all_in(rig, "RUNNING"))
    assert len(rig.fake.sent(MessageCall)) == 1  # nothing left to send


async def test_stray_mesos_tasks_are_killed_and_unknown_staging_tasks_relaunch(rig: Rig) -> None:
    a, _ = await launch_two(rig)
    rig.fake.push(Update(status=MesosStatus(task_id=TaskId("ghost.123"), state="TASK_RUNNING")))
    await eventually(lambda: bool(rig.fake.sent(Kill)))
    kill = rig.fake.sent(Kill)[0]
    assert isinstance(kill, Kill) and kill.task_id == "ghost.123"

    assert a.status.mesos_task_id is not None
    rig.fake.push(
        Update(
            status=MesosStatus(
                task_id=TaskId(a.status.mesos_task_id),
                state="TASK_LOST",
                reason="REASON_RECONCILIATION",
            )
        )
    )
    await eventually(lambda: _phase(rig, "a") == "Pending")


async def test_a_launch_whose_accept_is_in_flight_is_not_reconciled() -> None:
    """The launch status is written before the ACCEPT: a reconciliation sent meanwhile (the
    periodic one, or after a re-subscription) would ask the master about a task it does not
    know yet, and its "unknown" answer sent the launch back to Pending while the ACCEPT
    started it: two processes for one Task."""
    async with rigged(reconcile_period=0.05) as rig:
        await launch_two(rig)
        gate = rig.fake.gates[Accept] = Gate()
        await rig.store.create(owned("c"))
        rig.fake.push(Offers(offers=[offer(3)]))
        await asyncio.wait_for(gate.reached.wait(), 5)  # written Staging, ACCEPT held
        staging = await stored(rig, "c")
        launched = staging.status.mesos_task_id
        assert launched is not None
        mark = len(rig.fake.calls)
        await eventually(lambda: bool([c for c in rig.fake.calls[mark:] if type(c) is Reconcile]))
        asked = {t.task_id for c in rig.fake.calls[mark:] if type(c) is Reconcile for t in c.tasks}
        if launched in asked:  # what the master answers for a task it does not know yet
            unknown = MesosStatus(
                task_id=TaskId(launched), state="TASK_GONE", reason="REASON_RECONCILIATION"
            )
            rig.fake.push(Update(status=unknown))
        gate.set()
        await eventually(lambda: len(rig.fake.sent(Accept)) == 2)
        rig.fake.push(running(staging))  # the launch the ACCEPT started
        await eventually(lambda: _state(rig, "c") == "STANDBY")
        assert (await stored(rig, "c")).status.mesos_task_id == launched
        assert len(rig.fake.sent(Accept)) == 2 and not rig.fake.sent(Kill)


async def test_a_stray_in_an_executor_task_table_is_killed(rig: Rig) -> None:
    """A partitioned agent's tasks were reported lost and replaced; when the agent is back its
    processes still run (Mesos >= 1.5), and only the executor's task table shows them."""
    a, _ = await launch_two(rig)
    rows = [
        TaskReport(task_id=str(a.status.mesos_task_id), control="direct", phase="running"),
        TaskReport(task_id="a.old-launch", control="direct", phase="running", pid=4315),
        TaskReport(task_id="gone.exited", control="direct", phase="exited"),
    ]
    report = TaskTableReport(sequence=1, tasks=rows)
    rig.fake.push(
        Message(agent_id=AgentId("a1"), executor_id=ExecutorId("o2-executor"), data=encode(report))
    )
    await eventually(lambda: bool(rig.fake.sent(Kill)))
    assert [k.task_id for k in rig.fake.sent(Kill) if isinstance(k, Kill)] == ["a.old-launch"]


async def test_an_unanswered_request_to_an_old_launch_does_not_hold_back_the_new_one(
    rig: Rig,
) -> None:
    """A CONFIGURE sent to a launch that then died (its executor killed) is never answered;
    a Task of the same name launched again must be configured now, not once the old
    request's deadline (control timeout, 30 s) has passed."""
    a, _ = await launch_two(rig)
    rig.fake.push(running(a))
    await eventually(lambda: _state(rig, "a") == "STANDBY")
    await configure(rig, "a")
    await eventually(lambda: len(rig.fake.sent(MessageCall)) == 1)

    gone = await rig.store.get(Task, "a")  # deleted and created again under its name
    await rig.store.delete(Task, "a")
    await remove_finalizer(rig.store, await rig.store.get(Task, "a"), FINALIZER)
    await eventually(lambda: _cached(rig, "a") is None)
    await rig.store.create(owned("a"))
    await eventually(lambda: _phase(rig, "a") == "Pending")
    rig.fake.push(Offers(offers=[offer(3)]))
    again = await eventually(
        lambda: _cached(rig, "a"),
        until=lambda t: t is not None and t.status.phase == "Staging",
    )
    assert again is not None and again.status.mesos_task_id != gone.status.mesos_task_id
    rig.fake.push(running(again))
    await eventually(lambda: _state(rig, "a") == "STANDBY")
    await configure(rig, "a")
    await eventually(lambda: len(rig.fake.sent(MessageCall)) == 2)
    sent = rig.fake.sent(MessageCall)[-1]
    assert isinstance(sent, MessageCall)
    request = decode_to_executor(sent.data)
    assert [i.task_id for i in request.items] == [again.status.mesos_task_id]  # type: ignore[union-attr]


async def configure(rig: Rig, name: str) -> None:
    task = await stored(rig, name)
    spec = task.spec.model_copy(update={"state": "CONFIGURED"})
    await rig.store.update(task.model_copy(update={"spec": spec}))
    rig.framework.wake(every=True)


async def test_resubscribe_reconciles_known_tasks_explicitly_then_implicitly(rig: Rig) -> None:
    a, b = await launch_two(rig)
    rig.fake.calls.clear()
    rig.fake.push(Subscribed(framework_id=FrameworkId("fw-1")))
    await eventually(lambda: len(rig.fake.sent(Reconcile)) == 2)
    explicit, implicit = rig.fake.sent(Reconcile)
    assert isinstance(explicit, Reconcile) and isinstance(implicit, Reconcile)
    assert {t.task_id for t in explicit.tasks} == {a.status.mesos_task_id, b.status.mesos_task_id}
    assert implicit.tasks == []


def _cached(rig: Rig, name: str) -> Task | None:
    return rig.cache.get(name)


def _state(rig: Rig, name: str) -> str | None:
    task = _cached(rig, name)
    return task.status.state if task else None


def _phase(rig: Rig, name: str) -> str:
    task = _cached(rig, name)
    return task.status.phase if task else ""


def _all_standby(rig: Rig) -> bool:
    return _all_in(rig, "STANDBY")


def _all_in(rig: Rig, state: str) -> bool:
    tasks = [_cached(rig, n) for n in ("a", "b")]
    return all(t is not None and t.status.state == state for t in tasks)


async def test_unanswered_control_request_is_resent_with_the_same_ids() -> None:
    store = MemoryStore()
    informers = InformerFactory(store)
    ctx = Context(store=store, kv=store, informers=informers, events=Recorder())
    fake = FakeSchedulerClient()
    config = FrameworkConfig(
        masters=("fake",),
        launch=LaunchConfig(executor_command="o2-executor"),
        tick=0.02,
        control_timeout=0.05,
        control_margin=0.0,
    )
    framework = TaskFramework(ctx, config, client_factory=lambda _fid: fake)
    informers.start()
    await informers.wait_synced()
    runner = asyncio.create_task(framework.run())
    try:
        rig = Rig(
            store=store,
            fake=fake,
            framework=framework,
            events=Recorder(),
            cache=informers.informer(Task),
        )
        a, _ = await launch_two(rig)
        fake.push(running(a))
        await eventually(lambda: _phase(rig, "a") == "Running")
        task = await stored(rig, "a")
        await store.update(
            task.model_copy(update={"spec": task.spec.model_copy(update={"state": "CONFIGURED"})})
        )
        framework.wake("a")
        await eventually(lambda: len(fake.sent(MessageCall)) >= 2)
        first, second = (decode_to_executor(m.data) for m in fake.sent(MessageCall)[:2])  # type: ignore[attr-defined]
        ids = [[i.transition_id for i in r.items] for r in (first, second)]  # type: ignore[union-attr]
        assert ids[0] == ids[1] and len(ids[0]) == 1
        assert first.request_id != second.request_id  # type: ignore[union-attr]
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
        await informers.stop()


async def test_a_task_without_the_kill_finalizer_is_not_launched(rig: Rig) -> None:
    """Deleting it could not kill its process: it waits for the reconciler's finalizer."""
    await rig.store.create(sample_task("bare"))
    await eventually(lambda: "bare" in rig.cache.names())
    rig.fake.push(Subscribed(framework_id=FrameworkId("fw-1")))
    await eventually(lambda: rig.fake.connected)
    rig.fake.push(Offers(offers=[offer(1)]))
    await eventually(lambda: bool(rig.fake.sent(Decline)))
    assert not rig.fake.sent(Accept) and not rig.fake.sent(Revive)
    await add_finalizer(rig.store, await stored(rig, "bare"), FINALIZER)
    await eventually(lambda: bool(rig.fake.sent(Revive)))
    rig.fake.push(Offers(offers=[offer(2)]))
    await eventually(lambda: bool(rig.fake.sent(Accept)))


async def test_the_reconciler_sees_why_a_task_is_unschedulable_until_it_forgets_it() -> None:
    async with rigged(unplaced_grace=0.0) as rig:
        await rig.store.create(owned("huge", memory=512_000))
        await eventually(lambda: "huge" in rig.cache.names())
        rig.fake.push(Subscribed(framework_id=FrameworkId("fw-1")))
        await eventually(lambda: bool(rig.fake.sent(Revive)))
        rig.fake.push(Offers(offers=[offer(1)]))
        await eventually(lambda: rig.framework.unschedulable_reason("huge") is not None)
        reason = rig.framework.unschedulable_reason("huge")
        view = rig.framework.view("huge")
        assert view is not None and reason and view.status.message == reason
        assert ("huge", "FailedScheduling") in rig.events.reasons
        rig.framework.forget("huge")
        assert rig.framework.unschedulable_reason("huge") is None


async def test_a_request_sent_while_the_executor_was_away_is_resent_once_it_subscribes(
    rig: Rig,
) -> None:
    """Regression (`o2 up --keep-tasks`): the controller re-subscribed before the adopted
    executor did; the agent dropped the CONFIGURE for it, and the request was resent only after
    its 30 s deadline. The table the executor sends as it subscribes triggers the resend."""
    a, _ = await launch_two(rig)
    rig.fake.push(running(a))
    await eventually(lambda: _state(rig, "a") == "STANDBY")
    await configure(rig, "a")
    await eventually(lambda: len(rig.fake.sent(MessageCall)) == 1)
    first = decode_to_executor(rig.fake.sent(MessageCall)[0].data)  # type: ignore[union-attr]
    row = TaskReport(task_id=str(a.status.mesos_task_id), control="direct", phase="running")
    periodic = TaskTableReport(sequence=5, tasks=(row,))
    rig.fake.push(
        Message(
            agent_id=AgentId("a1"), executor_id=ExecutorId("o2-executor"), data=encode(periodic)
        )
    )
    await asyncio.sleep(0.2)  # a periodic table proves nothing: the request may be on its way
    assert len(rig.fake.sent(MessageCall)) == 1
    again = TaskTableReport(sequence=6, tasks=(row,), subscribed=True)
    rig.fake.push(
        Message(agent_id=AgentId("a1"), executor_id=ExecutorId("o2-executor"), data=encode(again))
    )
    await eventually(lambda: len(rig.fake.sent(MessageCall)) == 2)
    resent = decode_to_executor(rig.fake.sent(MessageCall)[1].data)  # type: ignore[union-attr]
    ids = [i.transition_id for i in resent.items]  # type: ignore[union-attr]
    assert ids == [i.transition_id for i in first.items]  # type: ignore[union-attr]
