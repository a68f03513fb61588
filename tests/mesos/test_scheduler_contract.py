"""One contract for SchedulerClient and FakeSchedulerClient: what the task controller relies on."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from controller.mesos import FakeSchedulerClient, SchedulerCalls, SchedulerClient
from crds.errors import MesosUnavailableError
from mesosapi.models import AgentId, FrameworkId, TaskId, TaskStatus
from mesosapi.scheduler import Subscribed, Update
from tests.mesos.cluster import local_cluster
from tests.mesos.scenario import new_client

pytestmark = pytest.mark.timeout(60)

Client = SchedulerClient | FakeSchedulerClient


@contextlib.asynccontextmanager
async def _subscribed(kind: str, tmp: Path) -> AsyncIterator[Client]:
    """A client of `kind` that has just been subscribed (its events not yet read)."""
    if kind == "fake":
        fake = FakeSchedulerClient()
        fake.push(Subscribed(framework_id=FrameworkId("fake-0000")))
        yield fake
        return
    async with local_cluster(tmp) as cluster:
        client = new_client(cluster.master)
        async with client:
            await client.wait_subscribed()
            yield client


@pytest.fixture(params=["fake", "real"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def test_calls_before_subscription_raise_unavailable(kind: str, tmp_path: Path) -> None:
    client: SchedulerCalls = FakeSchedulerClient() if kind == "fake" else new_client("127.0.0.1:9")
    with pytest.raises(MesosUnavailableError):
        await client.reconcile()


async def test_subscribed_client_has_a_framework_id_and_accepts_calls(
    kind: str, tmp_path: Path
) -> None:
    async with _subscribed(kind, tmp_path) as client:
        assert client.connected and client.framework_id
        await client.reconcile([(TaskId("nobody"), None)])
        await client.revive()
        await client.suppress()


async def test_first_event_after_subscribing_is_subscribed(kind: str, tmp_path: Path) -> None:
    async with _subscribed(kind, tmp_path) as client:
        first = await anext(client.events())
        assert isinstance(first, Subscribed) and first.framework_id == client.framework_id


async def test_unknown_task_reconciles_to_a_master_update(tmp_path: Path) -> None:
    async with _subscribed("real", tmp_path) as client:
        assert isinstance(client, SchedulerClient)
        await client.reconcile([(TaskId("ghost"), None)])
        events = client.events()
        async with asyncio.timeout(10):
            event = await anext(events)
            while not isinstance(event, Update):
                event = await anext(events)
        assert event.status.task_id == "ghost" and event.status.source == "SOURCE_MASTER"
        assert event.status.state in {"TASK_LOST", "TASK_GONE", "TASK_UNKNOWN"}


async def test_acknowledge_soon_sends_reliable_updates_only(kind: str, tmp_path: Path) -> None:
    async with _subscribed(kind, tmp_path) as client:
        unreliable = TaskStatus(task_id=TaskId("t"), state="TASK_LOST", source="SOURCE_MASTER")
        assert not client.acknowledge_soon(unreliable)
        reliable = unreliable.model_copy(
            update={"uuid": b"0123456789abcdef", "agent_id": AgentId("nowhere-S0")}
        )
        assert client.acknowledge_soon(reliable)
        async with asyncio.timeout(5):
            await client.drain_acks()
