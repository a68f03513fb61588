"""Scheduler failover (failover_timeout) and agent loss (event order, PARTITION_AWARE)."""

from __future__ import annotations

import asyncio

from localmesos import LocalCluster
from tests.localmesos.helpers import Json, RawScheduler, task_info


async def _run_tasks(sched: RawScheduler, *task_ids: str) -> Json:
    await sched.subscribe()
    offer = (await sched.offers())[0]
    await sched.accept(offer, [task_info(t, offer) for t in task_ids])
    for tid in task_ids:
        await sched.next_update(tid, state="TASK_RUNNING")
    await sched.wait_acked(len(task_ids))
    return offer


async def test_resubscribe_within_failover_timeout_keeps_tasks(cluster: LocalCluster) -> None:
    first = RawScheduler(cluster.url, failover_timeout=30)
    second = RawScheduler(cluster.url, failover_timeout=30)
    try:
        await _run_tasks(first, "t1")
        fid = first.framework_id or ""
        await first.disconnect()
        await cluster.wait_for(lambda: not cluster.master.frameworks[fid].connected)
        second.framework_id = fid
        subscribed = await second.subscribe()
        assert subscribed["subscribed"]["framework_id"] == {"value": fid}
        await second.call({"type": "RECONCILE", "reconcile": {"tasks": []}})
        assert (await second.next_update("t1"))["state"] == "TASK_RUNNING"
        assert cluster.master.frameworks[fid].tasks["t1"].state == "TASK_RUNNING"
    finally:
        await first.close()
        await second.close()


async def test_failover_timeout_expiry_kills_tasks_and_forbids_resubscribe(
    cluster: LocalCluster,
) -> None:
    first = RawScheduler(cluster.url, failover_timeout=0.2)
    late = RawScheduler(cluster.url)
    try:
        offer = await _run_tasks(first, "t1")
        fid = first.framework_id or ""
        agent = cluster.agent(offer["agent_id"]["value"])
        assert agent.executors
        await first.disconnect()
        await cluster.wait_for(lambda: fid in cluster.master.completed_frameworks)
        await cluster.wait_for(lambda: not agent.executors)
        assert agent.ledger.used.is_empty()
        late.framework_id = fid
        error = await late.subscribe()
        assert error == {"type": "ERROR", "error": {"message": "Framework has been removed"}}
        await asyncio.wait_for(late.closed.wait(), 5)
    finally:
        await first.close()
        await late.close()


async def test_second_subscribe_fails_over_the_first_stream(cluster: LocalCluster) -> None:
    first = RawScheduler(cluster.url)
    second = RawScheduler(cluster.url)
    try:
        await first.subscribe()
        second.framework_id = first.framework_id
        await second.subscribe()
        error = await first.next(lambda e: e["type"] == "ERROR")
        assert error["error"]["message"] == "Framework failed over"
        await asyncio.wait_for(first.closed.wait(), 5)
        assert await first.call({"type": "REVIVE", "revive": {}}) == 400  # stale stream id
        assert await second.call({"type": "REVIVE", "revive": {}}) == 202
    finally:
        await first.close()
        await second.close()


async def test_lost_agent_sends_lost_updates_then_rescind_then_failure(
    cluster: LocalCluster, scheduler: RawScheduler
) -> None:
    offer = await _run_tasks(scheduler, "t1", "t2")
    agent_id = offer["agent_id"]
    outstanding = [o for o in await scheduler.offers() if o["agent_id"] == agent_id]
    assert outstanding
    scheduler.drain()
    start = len(scheduler.events)
    await cluster.kill_agent(agent_id["value"])
    await scheduler.next(lambda e: e["type"] == "FAILURE")
    tail = [e for e in scheduler.events[start:] if e["type"] != "HEARTBEAT"]
    failure = {"type": "FAILURE", "failure": {"agent_id": agent_id}}
    kinds = [e["type"] for e in tail]
    assert kinds == ["UPDATE", "UPDATE", "RESCIND", *kinds[3:-1], "FAILURE"]
    assert tail[-1] == failure
    for event in tail[:2]:
        status = event["update"]["status"]
        assert status["state"] == "TASK_LOST" and status["reason"] == "REASON_AGENT_REMOVED"
        assert status["source"] == "SOURCE_MASTER" and "uuid" not in status
    assert tail[2]["rescind"]["offer_id"] == outstanding[0]["id"]
    state = cluster.state()
    assert not next(a for a in state["agents"] if a["id"] == agent_id["value"])["reachable"]


async def test_partition_aware_framework_sees_unreachable_then_tasks_return(
    cluster: LocalCluster,
) -> None:
    sched = RawScheduler(cluster.url, capabilities=("PARTITION_AWARE",))
    try:
        offer = await _run_tasks(sched, "t1")
        agent_id = offer["agent_id"]["value"]
        cluster.partition_agent(agent_id)
        status = await sched.next_update("t1")
        assert status["state"] == "TASK_UNREACHABLE" and "unreachable_time" in status
        await sched.next(lambda e: e["type"] == "FAILURE")
        await sched.call({"type": "RECONCILE", "reconcile": {"tasks": []}})
        assert (await sched.next_update("t1"))["state"] == "TASK_UNREACHABLE"
        cluster.restore_agent(agent_id)
        await sched.call({"type": "RECONCILE", "reconcile": {"tasks": []}})
        assert (await sched.next_update("t1"))["state"] == "TASK_RUNNING"
        await sched.call({"type": "KILL", "kill": {"task_id": {"value": "t1"}}})
        assert (await sched.next_update("t1"))["state"] == "TASK_KILLED"
    finally:
        await sched.close()
