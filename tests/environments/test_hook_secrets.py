"""A hook never sees the controller's secrets, and nothing it prints publishes one: the hook of
the issue (`env | grep ^O2_ETCD`) runs under the real environment controller and EventRecorder
on etcd, and the Events read back, the environment's status and the logs hold no password."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest

from controller.events import EventRecorder
from crds.kinds.environment import Environment
from crds.kinds.event import Event
from crds.kinds.task import Task
from crds.kinds.workflow import Workflow
from crds.resource import Resource
from store.etcd import EtcdStore
from store.informer import InformerFactory
from tests.environments.fake_tasks import FakeTaskController
from tests.environments.helpers import fresh, samples, with_calls
from tests.environments.test_controller import Harness, Sink

PASSWORD = "pw-Zq8#kL2v"
LEAKY = 'env | grep ^O2_ETCD; echo "seen=[$O2_ETCD_PASSWORD]"; echo "kind=[$RUN_KIND]"'


class StoreSink(Sink):
    """Remembers each event, and records it as an Event in etcd like the manager does."""

    def __init__(self, recorder: EventRecorder) -> None:
        super().__init__()
        self.recorder = recorder

    def event(
        self, obj: Resource, *, reason: str, message: str = "", warning: bool = False
    ) -> None:
        super().event(obj, reason=reason, message=message, warning=warning)
        self.recorder.event(obj, reason=reason, message=message, warning=warning)


@pytest.fixture
async def recorded(etcd_store: EtcdStore) -> AsyncIterator[tuple[Harness, EventRecorder]]:
    recorder = EventRecorder(lambda: etcd_store, etcd_store, source="test")
    writer = asyncio.create_task(recorder.run())
    factory = InformerFactory(etcd_store)
    for kind in (Environment, Task, Workflow):
        factory.informer(kind)
    fake = FakeTaskController(etcd_store, factory.informer(Task))
    h = Harness(etcd_store, factory, StoreSink(recorder), fake, [])
    factory.start()
    await factory.wait_synced()
    fake.start()
    try:
        yield h, recorder
    finally:
        for ctl in list(h.controllers):
            await h.stop_controller(ctl)
        await fake.stop()
        await factory.stop()
        writer.cancel()
        await asyncio.gather(writer, return_exceptions=True)


async def test_env_grep_hook_publishes_no_secret_in_events_status_or_logs(
    recorded: tuple[Harness, EventRecorder],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    h, recorder = recorded
    caplog.set_level(logging.INFO)
    monkeypatch.setenv("O2_ETCD_PASSWORD", PASSWORD)
    monkeypatch.setenv("O2_ETCD_USER", "o2-controller")
    env, workflow, classes = samples()
    for tc in classes.values():
        await h.store.create(tc)
    hook = with_calls(workflow, command=("sh", "-c", LEAKY), env={"RUN_KIND": "{{ run_type }}"})
    await h.store.create(hook)
    h.start_controller()
    await h.store.create(fresh(env))
    running = await h.wait_state("physics-1", "RUNNING")
    await recorder.flush()
    events = (await h.store.list(Event)).items
    hooks = [e for e in events if e.spec.reason == "HookSucceeded"]
    assert len(hooks) == 1
    message = hooks[0].spec.message
    assert "seen=[]" in message  # the hook did not have it at all, it was not merely masked
    assert "O2_ETCD_USER=" not in message  # nor any other etcd setting of the controller
    assert f"kind=[{env.spec.run_type}]" in message  # what the workflow sets, it sees
    published = [e.model_dump_json() for e in events] + [running.model_dump_json()]
    published += [str(r.__dict__) for r in caplog.records]
    assert not [text for text in published if PASSWORD in text]
