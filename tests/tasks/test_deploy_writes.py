"""What a DEPLOY costs etcd per task, counted in puts on the in-memory store: the Task's create
(with the kill finalizer already on), its launch status and its Running status, and no Event
per task: the starts of an environment's tasks fold into one Event on the Environment."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence

from controller.events import EventRecorder
from controller.mesos import FakeSchedulerClient
from controller.runtime.reconciler import Context
from controller.tasks.controller import TaskReconciler
from controller.tasks.facts import ProcessFacts, encode_facts
from controller.tasks.framework import FrameworkConfig, TaskFramework
from controller.tasks.launch import LaunchConfig
from crds.kinds.event import Event
from crds.kinds.node import Node
from crds.kinds.task import Task
from crds.labels import KILL_TASK_FINALIZER
from crds.meta import OwnerReference
from crds.resource import Resource
from mesosapi.models import AgentId, FrameworkId, TaskId
from mesosapi.models import TaskStatus as MesosStatus
from mesosapi.scheduler import Accept, Offers, Revive, Subscribed, Update
from store.informer import InformerFactory
from store.kv import Compare, Op, Put, TxnResult
from store.memory import MemoryStore
from tests.tasks.harness import sample_task
from tests.tasks.test_placement import offer
from tests.waiting import eventually

TASKS = 40
ENV = OwnerReference(kind="Environment", name="physics-1", uid="u-physics-1", controller=True)


class PutCounter:
    """Puts of successful txns, per store key (what etcd_mvcc_put_total counts)."""

    def __init__(self, store: MemoryStore) -> None:
        self.puts: Counter[str] = Counter()
        self._txn = store.kv.txn
        store.kv.txn = self.txn  # type: ignore[method-assign]

    async def txn(
        self, compares: Sequence[Compare], success: Sequence[Op], failure: Sequence[Op] = ()
    ) -> TxnResult:
        result = await self._txn(compares, success, failure)
        for op in success if result.succeeded else failure:
            if isinstance(op, Put):
                self.puts[op.key] += 1
        return result

    def of(self, kind: str) -> list[int]:
        return [n for key, n in self.puts.items() if f"/{kind}/" in key]


class Counted:
    """The recorder, counting the occurrences reported to it (before it folds or writes)."""

    def __init__(self, recorder: EventRecorder) -> None:
        self.recorder = recorder
        self.reported = 0

    def event(
        self, obj: Resource, *, reason: str, message: str = "", warning: bool = False
    ) -> None:
        self.reported += 1
        self.recorder.event(obj, reason=reason, message=message, warning=warning)


def env_task(name: str) -> Task:
    """A Task as the environment controller creates it: owned, the kill finalizer on."""
    task = sample_task(name)
    meta = task.metadata.model_copy(
        update={"owner_references": (ENV,), "finalizers": (KILL_TASK_FINALIZER,)}
    )
    return task.model_copy(update={"metadata": meta})


def running(mesos_id: str, agent: str) -> Update:
    return Update(
        status=MesosStatus(
            task_id=TaskId(mesos_id),
            state="TASK_RUNNING",
            agent_id=AgentId(agent),
            uuid=mesos_id.encode()[:16].ljust(16, b"-"),
            data=encode_facts(ProcessFacts(pid=100, occ_state="STANDBY")),
        )
    )


async def test_deploy_costs_three_puts_per_task_and_one_event_per_environment() -> None:
    store = MemoryStore()
    counter = PutCounter(store)
    informers = InformerFactory(store)
    recorder = EventRecorder(lambda: store, store, source="test")
    events = Counted(recorder)
    ctx = Context(store=store, kv=store, informers=informers, events=events)
    cache = informers.informer(Task)
    informers.informer(Node)
    informers.start()
    await informers.wait_synced()
    fake = FakeSchedulerClient()
    config = FrameworkConfig(masters=("fake",), launch=LaunchConfig("o2-executor"), tick=0.02)
    framework = TaskFramework(ctx, config, client_factory=lambda _fid: fake)
    runner = asyncio.create_task(framework.run())
    try:
        names = [f"t{i:02d}" for i in range(TASKS)]
        for name in names:
            await store.create(env_task(name))
        reconciler = TaskReconciler(ctx)  # no Mesos master: only the finalizer work
        await eventually(lambda: len(cache.names()) == TASKS)
        for name in names:
            await reconciler.reconcile(name)  # the finalizer is there: nothing to write
        fake.push(Subscribed(framework_id=FrameworkId("fw-1")))
        await eventually(lambda: bool(fake.sent(Revive)))
        fake.push(Offers(offers=[offer(1, cpus=8, mem=8192, ports=(31000, 31099))]))
        await eventually(lambda: bool(fake.sent(Accept)))
        for accept in fake.sent(Accept):
            assert isinstance(accept, Accept)
            for info in accept.operations[0].launch.task_infos:  # type: ignore[union-attr]
                fake.push(running(info.task_id, info.agent_id))

        def all_running() -> bool:
            return all((t := cache.get(n)) and t.status.phase == "Running" for n in names)

        await eventually(all_running)
        await eventually(lambda: events.reported == TASKS)  # reported after the write returns
        writer = asyncio.create_task(recorder.run())  # after the burst: it folds into one write
        await recorder.flush()
        writer.cancel()
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
        await informers.stop()
    assert counter.of("tasks") == [3] * TASKS  # create, launch (Staging), Running
    assert counter.of("events") == [1]
    (event,) = (await store.list(Event)).items
    assert (event.spec.involved_object.kind, event.spec.involved_object.name) == (
        "Environment",
        "physics-1",
    )
    assert (event.spec.reason, event.spec.count) == ("TasksStarted", TASKS)
