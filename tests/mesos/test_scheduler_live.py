"""o2's scheduler and executor clients against the real local cluster (subprocesses, HTTP)."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from controller.mesos import Disconnected
from executor.mesos import ExecutorClient
from mesosapi.backoff import Backoff
from mesosapi.executor import ExecutorEnvironment
from mesosapi.models import ExecutorId, Operation, TaskId, TaskInfo, TaskStatus
from mesosapi.resources import Demand, ResourcePool
from mesosapi.scheduler import Error, Failure, Message, Offers, Rescind, Subscribed, Update
from tests.mesos.cluster import free_port, local_cluster
from tests.mesos.scenario import echo_executor, new_client, task_for
from tests.mesos.tap import EventTap, tapped
from tests.waiting import eventually

pytestmark = pytest.mark.timeout(90)


def _is(task: str, state: str) -> object:
    return lambda e: e.status.task_id == task and e.status.state == state


async def _launch_running(tap: EventTap, task_id: str) -> Update:
    """Launch `task_id` on the echo executor from the next offer; ACK and return its RUNNING."""
    _, offers = await tap.wait_for(Offers, lambda e: bool(e.offers))
    offer = offers.offers[0]
    await tap.client.launch([offer.id], [task_for(offer, task_id, echo_executor())])
    _, running = await tap.wait_for(Update, _is(task_id, "TASK_RUNNING"))  # type: ignore[arg-type]
    await tap.client.acknowledge(running.status)
    return running


async def test_o2_clients_subscribe_launch_message_reconcile_and_teardown(tmp_path: Path) -> None:
    async with local_cluster(tmp_path) as cluster, tapped(new_client(cluster.master)) as tap:
        _, subscribed = await tap.wait_for(Subscribed)
        assert tap.client.framework_id == subscribed.framework_id
        running = await _launch_running(tap, "t1")
        status = running.status
        assert status.source == "SOURCE_EXECUTOR" and status.uuid is not None
        assert status.agent_id is not None and status.executor_id == "o2-echo"
        assert status.data == b"running"

        _, hello = await tap.wait_for(Message, lambda m: m.data == b"hello t1")
        await tap.client.message(hello.agent_id, hello.executor_id, b"ping")
        await tap.wait_for(Message, lambda m: m.data == b"pong")

        mark = len(tap.events)
        await tap.client.reconcile([(TaskId("t1"), status.agent_id)])
        _, explicit = await tap.wait_for(
            Update, lambda e: e.status.reason == "REASON_RECONCILIATION", after=mark
        )
        assert explicit.status.state == "TASK_RUNNING" and explicit.status.uuid is None
        assert not await tap.client.acknowledge(explicit.status)
        mark = len(tap.events)
        await tap.client.reconcile()
        await tap.wait_for(
            Update,
            lambda e: e.status.reason == "REASON_RECONCILIATION" and e.status.task_id == "t1",
            after=mark,
        )

        await tap.client.message(hello.agent_id, hello.executor_id, b"finish t1")
        i_done, done = await tap.wait_for(Update, _is("t1", "TASK_FINISHED"))  # type: ignore[arg-type]
        assert done.status.data == b"done"
        assert tap.events.index(running) < i_done
        assert tap.client.acknowledge_soon(done.status)
        async with asyncio.timeout(5):
            await tap.client.drain_acks()

        await tap.client.teardown()
        await tap.wait_for(Disconnected)
        state = await cluster.state()
        completed = state["completed_frameworks"]
        assert isinstance(completed, list)
        assert subscribed.framework_id in [f["id"] for f in completed]


async def test_resubscribing_within_failover_timeout_keeps_running_tasks(tmp_path: Path) -> None:
    async with local_cluster(tmp_path) as cluster:
        async with tapped(new_client(cluster.master, failover_timeout=60)) as first:
            await first.wait_for(Subscribed)
            running = await _launch_running(first, "kept")
        framework_id = first.client.framework_id
        assert framework_id is not None
        again = new_client(cluster.master, framework_id=framework_id)
        async with tapped(again) as second:
            _, sub = await second.wait_for(Subscribed)
            assert sub.framework_id == framework_id
            await again.reconcile([(TaskId("kept"), running.status.agent_id)])
            _, rec = await second.wait_for(
                Update, lambda e: e.status.reason == "REASON_RECONCILIATION"
            )
            assert rec.status.state == "TASK_RUNNING"
            assert not second.of(Error)
            await again.teardown()


async def test_after_failover_timeout_tasks_are_killed_and_the_id_is_refused(
    tmp_path: Path,
) -> None:
    async with local_cluster(tmp_path) as cluster:
        async with tapped(new_client(cluster.master, failover_timeout=0.5)) as first:
            await first.wait_for(Subscribed)
            await _launch_running(first, "doomed")
        framework_id = first.client.framework_id

        async def completed_frameworks() -> list[Any]:
            completed = (await cluster.state())["completed_frameworks"]
            assert isinstance(completed, list)
            return completed

        completed = await eventually(
            completed_frameworks,
            until=lambda found: any(f["id"] == framework_id for f in found),
            within=20,
            interval=0.1,
            message=f"framework {framework_id} among the completed frameworks",
        )
        tasks = [t for f in completed if f["id"] == framework_id for t in f["completed_tasks"]]
        assert [(t["id"], t["state"]) for t in tasks] == [("doomed", "TASK_KILLED")]
        async with tapped(new_client(cluster.master, framework_id=framework_id)) as late:
            _, err = await late.wait_for(Error)
            assert "removed" in err.message
            assert not late.of(Subscribed)


async def test_master_answering_error_and_close_gets_only_a_few_subscribes_per_second(
    tmp_path: Path,
) -> None:
    async with local_cluster(tmp_path) as cluster:
        async with tapped(new_client(cluster.master)) as first:
            await first.wait_for(Subscribed)
            await first.client.teardown()
        removed = first.client.framework_id
        client = new_client(cluster.master, framework_id=removed, backoff=Backoff())
        window = 3.0
        async with tapped(client) as tap:
            await tap.wait_for(Error)
            start = time.monotonic()
            await asyncio.sleep(window)
            attempts = [t for t in client.subscribe_attempts if t >= start]
        rate = len(attempts) / window
        assert len(tap.of(Error)) >= 2, "the client kept retrying"
        assert rate <= 2.0, f"{rate:.1f} subscribes/s against ERROR + close"


async def test_client_skips_a_dead_master_in_its_list(tmp_path: Path) -> None:
    dead = f"127.0.0.1:{free_port()}"
    async with (
        local_cluster(tmp_path) as cluster,
        tapped(new_client([dead, cluster.master])) as tap,
    ):
        await tap.wait_for(Subscribed)
        assert tap.client.leader == cluster.master
        assert len(tap.client.subscribe_attempts) >= 2


async def _post(cluster_master: str, path: str) -> None:
    async with aiohttp.ClientSession() as s, s.post(f"http://{cluster_master}{path}") as r:
        assert r.status == 200, await r.text()


async def test_agent_loss_sends_unreachable_then_rescind_then_failure(tmp_path: Path) -> None:
    async with local_cluster(tmp_path) as cluster, tapped(new_client(cluster.master)) as tap:
        await tap.wait_for(Subscribed)
        _, offers = await tap.wait_for(Offers, lambda e: bool(e.offers))
        offer = offers.offers[0]
        task = task_for(offer, "on-doomed-agent", echo_executor())
        launched = len(tap.events)
        await tap.client.launch([offer.id], [task], refuse_seconds=0)
        _, running = await tap.wait_for(Update, _is("on-doomed-agent", "TASK_RUNNING"))  # type: ignore[arg-type]
        await tap.client.acknowledge(running.status)
        mark = tap.events.index(running)
        # The rest of the agent is offered again after the launch, before or after TASK_RUNNING
        # (a slow executor start): an offer held is not offered twice.
        _, again = await tap.wait_for(
            Offers, lambda e: any(o.agent_id == offer.agent_id for o in e.offers), after=launched
        )
        outstanding = [o.id for o in again.offers if o.agent_id == offer.agent_id]

        await _post(cluster.master, f"/localmesos/agents/{offer.agent_id}/kill")
        i_lost, lost = await tap.wait_for(
            Update, lambda e: e.status.task_id == "on-doomed-agent", after=mark + 1
        )
        assert lost.status.state == "TASK_UNREACHABLE"
        assert lost.status.source == "SOURCE_MASTER" and lost.status.uuid is None
        assert lost.status.reason == "REASON_AGENT_REMOVED"
        i_rescind, rescind = await tap.wait_for(Rescind, after=i_lost)
        assert rescind.offer_id in outstanding
        i_failure, failure = await tap.wait_for(Failure, after=i_rescind)
        assert failure.agent_id == offer.agent_id and failure.executor_id is None
        assert i_lost < i_rescind < i_failure


async def test_silent_master_is_detected_by_missing_heartbeats_and_resubscribed(
    tmp_path: Path,
) -> None:
    extra = ["--heartbeat-interval", "0.2"]
    async with (
        local_cluster(tmp_path, extra=extra) as cluster,
        tapped(new_client(cluster.master)) as tap,
    ):
        await tap.wait_for(Subscribed)
        assert tap.client.heartbeat_interval == pytest.approx(0.2)
        mark = len(tap.events)
        os.kill(cluster.proc.pid, signal.SIGSTOP)
        try:
            _, gone = await tap.wait_for(Disconnected, after=mark, within=5)
        finally:
            os.kill(cluster.proc.pid, signal.SIGCONT)
        assert "heartbeat" in gone.reason
        _, back = await tap.wait_for(Subscribed, after=mark, within=10)
        assert back.framework_id == tap.client.framework_id


async def test_dropped_stream_is_resubscribed_as_the_same_framework_keeping_tasks(
    tmp_path: Path,
) -> None:
    async with local_cluster(tmp_path) as cluster, tapped(new_client(cluster.master)) as tap:
        _, first = await tap.wait_for(Subscribed)
        running = await _launch_running(tap, "survivor")
        mark = len(tap.events)
        await _post(cluster.master, f"/localmesos/frameworks/{first.framework_id}/disconnect")
        await tap.wait_for(Disconnected, after=mark)
        _, back = await tap.wait_for(Subscribed, after=mark)
        assert back.framework_id == first.framework_id
        mark = len(tap.events)
        await tap.client.reconcile([(TaskId("survivor"), running.status.agent_id)])
        _, rec = await tap.wait_for(
            Update, lambda e: e.status.reason == "REASON_RECONCILIATION", after=mark
        )
        assert rec.status.state == "TASK_RUNNING"


async def test_launch_group_reaches_the_custom_executor_which_also_owns_kill(
    tmp_path: Path,
) -> None:
    async with local_cluster(tmp_path) as cluster, tapped(new_client(cluster.master)) as tap:
        await tap.wait_for(Subscribed)
        _, offers = await tap.wait_for(Offers, lambda e: bool(e.offers))
        offer = offers.offers[0]
        executor = echo_executor("o2-group")
        pool = ResourcePool(offer.resources)
        assert pool.take(Demand(cpus=0.1, mem=32)) is not None
        tasks = []
        for name in ("g1", "g2"):
            got = pool.take(Demand(cpus=0.1, mem=16))
            assert got is not None
            tasks.append(
                TaskInfo(
                    name=name,
                    task_id=TaskId(name),
                    agent_id=offer.agent_id,
                    resources=got.resources,
                )
            )
        await tap.client.accept([offer.id], [Operation.of_launch_group(executor, tasks)])
        for name in ("g1", "g2"):
            _, up = await tap.wait_for(Update, _is(name, "TASK_RUNNING"))  # type: ignore[arg-type]
            assert up.status.data == b"running in group"
            assert await tap.client.acknowledge(up.status)
        await tap.client.kill(TaskId("g1"), agent_id=offer.agent_id, grace_seconds=1.0)
        _, killed = await tap.wait_for(Update, _is("g1", "TASK_KILLED"))  # type: ignore[arg-type]
        assert killed.status.source == "SOURCE_EXECUTOR" and killed.status.data == b"killed"


async def _agent_endpoint(master: str) -> str:
    async with aiohttp.ClientSession() as s, s.get(f"http://{master}/master/slaves") as r:
        (agent,) = (await r.json())["slaves"]
        return f"127.0.0.1:{agent['port']}"


async def test_executor_resubscribe_delivers_its_unacknowledged_updates(tmp_path: Path) -> None:
    async with local_cluster(tmp_path) as cluster, tapped(new_client(cluster.master)) as tap:
        _, sub = await tap.wait_for(Subscribed)
        running = await _launch_running(tap, "carried")
        env = ExecutorEnvironment(
            agent_endpoint=await _agent_endpoint(cluster.master),
            framework_id=sub.framework_id,
            executor_id=ExecutorId("o2-echo"),
            checkpoint=True,
        )
        takeover = ExecutorClient(env)
        kept = await takeover.update(
            TaskStatus(task_id=TaskId("carried"), state="TASK_FINISHED", data=b"from subscribe")
        )
        assert takeover.unacknowledged_updates == [kept]
        async with takeover:
            # The agent takes the update from SUBSCRIBE's unacknowledged_updates (the real
            # executor then re-subscribes and takes its stream back: only delivery is checked).
            _, done = await tap.wait_for(
                Update,
                _is("carried", "TASK_FINISHED"),  # type: ignore[arg-type]
                after=tap.events.index(running),
            )
        assert done.status.uuid == kept.uuid and done.status.data == b"from subscribe"
