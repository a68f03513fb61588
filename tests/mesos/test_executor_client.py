"""The executor client's own behaviour: reliable-update bookkeeping and giving up on a lost agent.

The agent side is a real closed port (connection refused), not a fake server.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from executor.mesos import Disconnected, ExecutorClient
from mesosapi.backoff import Backoff
from mesosapi.executor import Acknowledged, ExecutorEnvironment, Launch
from mesosapi.models import AgentId, ExecutorId, FrameworkId, TaskId, TaskInfo, TaskStatus
from tests.mesos.cluster import free_port

pytestmark = pytest.mark.timeout(30)


def _env(*, checkpoint: bool, recovery: float = 900.0) -> ExecutorEnvironment:
    return ExecutorEnvironment(
        agent_endpoint=f"127.0.0.1:{free_port()}",
        framework_id=FrameworkId("f-0000"),
        executor_id=ExecutorId("o2-exec"),
        checkpoint=checkpoint,
        recovery_timeout=recovery,
        subscription_backoff_max=0.5,
    )


async def _drain(client: ExecutorClient) -> list[object]:
    out: list[object] = []
    async with asyncio.timeout(10):
        async for event in client.events():
            out.append(event)
    return out


async def test_update_without_agent_is_kept_with_uuid_source_and_timestamp() -> None:
    client = ExecutorClient(_env(checkpoint=True))
    sent = await client.update(TaskStatus(task_id=TaskId("t"), state="TASK_RUNNING"))
    assert sent.uuid is not None and len(sent.uuid) == 16
    assert sent.source == "SOURCE_EXECUTOR" and sent.executor_id == "o2-exec"
    assert sent.timestamp is not None and sent.timestamp > 0
    assert client.unacknowledged_updates == [sent]
    other = await client.update(TaskStatus(task_id=TaskId("t"), state="TASK_FINISHED"))
    assert other.uuid != sent.uuid
    assert [s.state for s in client.unacknowledged_updates] == ["TASK_RUNNING", "TASK_FINISHED"]


async def test_acknowledged_drops_the_update_and_its_task() -> None:
    client = ExecutorClient(_env(checkpoint=True))
    task = TaskInfo(name="t", task_id=TaskId("t"), agent_id=AgentId("a"))
    client._dispatch(Launch(task=task))
    assert client.unacknowledged_tasks == [task]
    sent = await client.update(TaskStatus(task_id=TaskId("t"), state="TASK_RUNNING"))
    assert sent.uuid is not None
    client._dispatch(Acknowledged(task_id=TaskId("t"), uuid=sent.uuid))
    assert client.unacknowledged_updates == [] and client.unacknowledged_tasks == []
    async with asyncio.timeout(1):
        await client.wait_acknowledged()


async def test_without_checkpointing_a_lost_agent_ends_the_events_at_once() -> None:
    async with ExecutorClient(_env(checkpoint=False)) as client:
        events = await _drain(client)
    assert len(events) == 1
    (last,) = events
    assert isinstance(last, Disconnected) and last.final
    assert client.subscribe_attempts == 1


async def test_checkpointing_executor_retries_with_backoff_until_recovery_timeout() -> None:
    client = ExecutorClient(
        _env(checkpoint=True, recovery=1.5), backoff=Backoff(initial=0.2, maximum=0.5)
    )
    start = time.monotonic()
    async with client:
        events = await _drain(client)
    elapsed = time.monotonic() - start
    assert isinstance(events[-1], Disconnected) and events[-1].final
    assert all(isinstance(e, Disconnected) and not e.final for e in events[:-1])
    assert 1.5 <= elapsed < 15.0, "gives up once the recovery timeout has passed, not forever"
    # Attempts at ~0, 0.2, 0.6, 1.1 s; a loaded machine may fit one fewer in 1.5 s.
    assert 2 <= client.subscribe_attempts <= 1.5 / 0.1 + 1, "backoff, not a tight loop"
