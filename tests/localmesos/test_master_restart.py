"""The master process restarted inside the running cluster (a Mesos master failover): agents
re-register with their executors and tasks, the framework re-subscribes with its id."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

import aiohttp
import pytest

from localmesos import LocalCluster
from procutil import start_time
from tests.localmesos.conftest import FAST
from tests.localmesos.helpers import Json, RawScheduler, raw_executor_command, task_info


async def _launch_on_both(sched: RawScheduler) -> dict[str, Json]:
    """One task on the real agent (raw executor) and one on the hollow agent; their offers."""
    await sched.subscribe()
    offers = await sched.offers()
    by_host = {o["hostname"]: o for o in offers}
    real, hollow = by_host["agent-0"], by_host["hollow-0"]
    await sched.accept(real, [task_info("real", real, command=raw_executor_command())])
    await sched.accept(hollow, [task_info("hollow", hollow)])
    await sched.next_update("real", state="TASK_RUNNING")
    sched.rewind()  # the hollow one may have come first
    await sched.next_update("hollow", state="TASK_RUNNING")
    await sched.wait_acked(2)
    return {"real": real, "hollow": hollow}


async def _refused(url: str) -> bool:
    """True when nothing accepts connections at `url` (the master is not there)."""
    try:
        async with aiohttp.ClientSession() as session, session.get(f"{url}/version") as resp:
            await resp.read()
    except aiohttp.ClientConnectorError:
        return True
    return False


async def test_master_restart_keeps_agents_executors_and_tasks(tmp_path: Path) -> None:
    async with LocalCluster(agents=1, hollow_agents=1, timers=FAST, work_dir=tmp_path) as cluster:
        first = RawScheduler(cluster.url, failover_timeout=60)
        again = RawScheduler(cluster.url, failover_timeout=60)
        try:
            offers = await _launch_on_both(first)
            fid, old_master = first.framework_id, cluster.master.master_id
            agent_ids = list(cluster.agent_ids)
            real_agent = cluster.agent(offers["real"]["agent_id"]["value"])
            pid = next(iter(real_agent.executors.values())).pid
            assert pid is not None
            started = start_time(pid)

            restart = asyncio.create_task(cluster.restart_master(downtime=1.0))
            await asyncio.wait_for(first.closed.wait(), 5)  # the stream ended
            assert await _refused(cluster.url)  # and the master is not there
            hollow_agent = cluster.agent(offers["hollow"]["agent_id"]["value"])
            cluster.kill_executor(hollow_agent.agent_id, "exec")  # an update while it is down
            await restart

            again.framework_id = fid
            subscribed = await again.subscribe()
            assert subscribed["subscribed"]["framework_id"] == {"value": fid}
            assert subscribed["subscribed"]["master_info"]["id"] != old_master
            failed = await again.next_update("hollow", state="TASK_FAILED")
            assert "uuid" in failed  # the agent's reliable update, resent to the new master
            tasks = [{"task_id": {"value": "real"}, "agent_id": offers["real"]["agent_id"]}]
            assert await again.call({"type": "RECONCILE", "reconcile": {"tasks": tasks}}) == 202
            running = await again.next_update("real", state="TASK_RUNNING")
            assert running["reason"] == "REASON_RECONCILIATION"
            assert cluster.agent_ids == agent_ids
            assert next(iter(real_agent.executors.values())).pid == pid
            assert start_time(pid) == started  # the same executor process

            again.rewind()  # offers came right after SUBSCRIBED
            offer = next(o for o in await again.offers() if o["hostname"] == "hollow-0")
            assert offer["agent_id"]["value"] in agent_ids
            await again.accept(offer, [task_info("after", offer, executor_id="exec2")])
            await again.next_update("after", state="TASK_RUNNING")

            data = base64.b64encode(b"finish real").decode()
            body = {"agent_id": offers["real"]["agent_id"], "executor_id": {"value": "exec"}}
            await again.call({"type": "MESSAGE", "message": {**body, "data": data}})
            await again.next_update("real", state="TASK_FINISHED")  # it still answers
        finally:
            await first.close()
            await again.close()


async def test_master_restart_through_the_control_endpoint(tmp_path: Path) -> None:
    """POST /localmesos/master/restart answers before the master goes, then it comes back."""
    async with LocalCluster(agents=0, hollow_agents=1, timers=FAST, work_dir=tmp_path) as cluster:
        before = cluster.master.master_id
        async with aiohttp.ClientSession() as session:
            url = f"{cluster.url}/localmesos/master/restart?downtime=0.2"
            async with session.post(url) as resp:
                assert resp.status == 202
                assert (await resp.json())["downtime"] == pytest.approx(0.2)
        await cluster.wait_for(lambda: cluster.master.master_id != before and cluster.master.up)
        sched = RawScheduler(cluster.url)
        try:
            async with asyncio.timeout(10):
                while True:  # the port reopens just after the master is up again
                    if not await _refused(cluster.url):
                        break
                    await asyncio.sleep(0.05)
            assert (await sched.subscribe())["type"] == "SUBSCRIBED"
            assert await sched.offers()
        finally:
            await sched.close()
