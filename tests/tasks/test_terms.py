"""The framework driver's leadership term: subscribe on start, close on stop, supervised."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from controller.mesos import FakeSchedulerClient
from controller.runtime.reconciler import Context
from controller.tasks import framework as fw
from controller.tasks.framework import FrameworkConfig, TaskFramework
from controller.tasks.launch import LaunchConfig
from crds.errors import FencedError, MesosUnavailableError
from crds.kinds.node import Node
from crds.kinds.task import Task
from mesosapi.models import FrameworkId
from mesosapi.scheduler import SchedulerEvent
from store.api import Store
from store.informer import InformerFactory
from store.memory import MemoryStore
from tests.mesos_fixture import LocalMesosProcess
from tests.tasks.conftest import ManagerFactory
from tests.tasks.harness import process_alive, sample_task, wait_task
from tests.tasks.test_framework import Recorder

CONFIG = FrameworkConfig(
    masters=("fake",), launch=LaunchConfig(executor_command="o2-executor"), tick=0.02
)


class Factory:
    """Hands out fake clients, failing with the scripted errors first; signals every call."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.asked: list[FrameworkId | None] = []
        self.clients: list[FakeSchedulerClient] = []
        self.called = asyncio.Event()

    def __call__(self, framework_id: FrameworkId | None) -> FakeSchedulerClient:
        self.asked.append(framework_id)
        self.called.set()
        if self.errors:
            raise self.errors.pop(0)
        self.clients.append(FakeSchedulerClient(framework_id=framework_id))
        return self.clients[-1]

    async def wait_calls(self, count: int, *, within: float = 5.0) -> None:
        async with asyncio.timeout(within):
            while len(self.asked) < count:
                self.called.clear()
                await self.called.wait()


Build = Callable[[Factory], TaskFramework]


@pytest.fixture
async def build() -> AsyncIterator[Build]:
    store = MemoryStore()
    informers = InformerFactory(store)
    ctx = Context(store=store, kv=store, informers=informers, events=Recorder())
    informers.informer(Task)
    informers.informer(Node)
    informers.start()
    await informers.wait_synced()
    await store.put_raw(f"{store.prefix}/{fw.FRAMEWORK_ID_KEY}", b"fw-persisted")
    made: list[TaskFramework] = []

    def make(factory: Factory) -> TaskFramework:
        made.append(TaskFramework(ctx, CONFIG, client_factory=factory))
        return made[-1]

    try:
        yield make
    finally:
        for framework in made:
            await framework.stop(graceful=False)
        await informers.stop()


async def test_term_start_subscribes_as_the_persisted_framework_and_stop_closes_it(
    build: Build,
) -> None:
    factory = Factory()
    framework = build(factory)
    framework.start()
    await factory.wait_calls(1)
    assert factory.asked == [FrameworkId("fw-persisted")]
    assert framework.client is factory.clients[0]
    await asyncio.wait_for(framework.stop(graceful=False), 5)
    assert framework.client is None
    framework.start()  # the next term subscribes again, with a new client
    await factory.wait_calls(2)
    assert len(factory.clients) == 2


async def test_failed_subscription_is_restarted_within_the_term(
    build: Build, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fw, "RESTART_MIN", 0.01)
    factory = Factory(MesosUnavailableError("master down"))
    framework = build(factory)
    framework.start()
    await factory.wait_calls(2)
    assert len(factory.clients) == 1 and framework.client is factory.clients[0]


async def test_fenced_subscription_is_not_restarted(
    build: Build, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fw, "RESTART_MIN", 0.01)
    factory = Factory(FencedError("/o2/leases/x"), MesosUnavailableError("never reached"))
    framework = build(factory)
    framework.start()
    await factory.wait_calls(1)
    term = framework.term
    assert term is not None
    await asyncio.wait_for(term, 5)  # the supervisor gave up: the term is over
    assert factory.asked == [FrameworkId("fw-persisted")]


async def test_graceful_manager_shutdown_ends_the_term_and_leaves_tasks_running(
    store: Store, cluster: LocalMesosProcess, manager_factory: ManagerFactory
) -> None:
    manager = manager_factory()
    await store.create(sample_task("survivor"))
    running = await wait_task(store, "survivor", lambda t: t.status.phase == "Running")
    await asyncio.to_thread(manager.stop)  # SIGTERM
    assert manager.proc.returncode == 0
    logs = manager.logs()
    assert "Task framework stopped" in logs and "Term hook" not in logs
    assert running.status.pid is not None and process_alive(running.status.pid)
    after = await store.get(Task, "survivor")
    assert after.status.phase == "Running" and after.status.pid == running.status.pid


class ClosingSlowly(FakeSchedulerClient):
    """Its event stream ends on `end`; its close() waits for `gate`."""

    def __init__(self, *, framework_id: FrameworkId | None = None) -> None:
        super().__init__(framework_id=framework_id)
        self.end = asyncio.Event()
        self.closing = asyncio.Event()
        self.gate = asyncio.Event()
        self.closed = False

    async def events(self) -> AsyncIterator[SchedulerEvent]:
        await self.end.wait()
        nothing: tuple[SchedulerEvent, ...] = ()
        for event in nothing:
            yield event

    async def close(self, *, teardown: bool = False) -> None:
        self.closing.set()
        await self.gate.wait()
        self.closed = True
        await super().close(teardown=teardown)


class SlowFactory(Factory):
    def __call__(self, framework_id: FrameworkId | None) -> FakeSchedulerClient:
        self.asked.append(framework_id)
        self.called.set()
        self.clients.append(ClosingSlowly(framework_id=framework_id))
        return self.clients[-1]


async def test_a_term_stopped_while_its_run_winds_down_still_closes_the_client(
    build: Build,
) -> None:
    factory = SlowFactory()
    framework = build(factory)
    framework.start()
    await factory.wait_calls(1)
    client = factory.clients[0]
    assert isinstance(client, ClosingSlowly)
    client.end.set()  # a loop ends (as when a write is fenced): the run closes its client
    await asyncio.wait_for(client.closing.wait(), 5)
    stopping = asyncio.create_task(framework.stop(graceful=False))  # the term ends meanwhile
    await asyncio.sleep(0)  # stop() has cancelled the term's supervisor
    client.gate.set()
    await asyncio.wait_for(stopping, 5)
    assert client.closed, "the client was left open: it would go on re-subscribing"
    assert framework.client is None
