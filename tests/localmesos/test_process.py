"""Real executor subprocesses: environment, session, sandbox logs, exit, teardown."""

from __future__ import annotations

import asyncio
import base64
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from localmesos import LocalCluster
from procutil import alive
from tests.localmesos.conftest import FAST
from tests.localmesos.helpers import (
    Json,
    RawScheduler,
    raw_executor_command,
    task_info,
    wait_pid_gone,
)


@pytest.fixture
async def real(tmp_path: Path) -> AsyncIterator[tuple[LocalCluster, RawScheduler]]:
    async with LocalCluster(agents=1, timers=FAST, work_dir=tmp_path) as cluster:
        sched = RawScheduler(cluster.url)
        try:
            yield cluster, sched
        finally:
            await sched.close()


async def _launch(sched: RawScheduler, *task_ids: str) -> Json:
    await sched.subscribe()
    offer = (await sched.offers())[0]
    tasks = [task_info(t, offer, command=raw_executor_command()) for t in task_ids]
    await sched.accept(offer, tasks)
    for tid in task_ids:
        await sched.next_update(tid, state="TASK_RUNNING")
    # acknowledged too: an unacknowledged RUNNING would hold a later update back behind it
    await sched.wait_acked(len(task_ids))
    return offer


async def _message(sched: RawScheduler, offer: Json, text: str) -> None:
    data = base64.b64encode(text.encode()).decode()
    status = await sched.call(
        {
            "type": "MESSAGE",
            "message": {
                "agent_id": offer["agent_id"],
                "executor_id": {"value": "exec"},
                "data": data,
            },
        }
    )
    assert status == 202


async def _read(cluster: LocalCluster, path: str, offset: int) -> Json:
    async with aiohttp.ClientSession() as http:
        url = f"{cluster.url}/files/read"
        async with http.get(url, params={"path": path, "offset": str(offset)}) as resp:
            assert resp.status == 200
            result: Json = await resp.json()
            return result


async def test_executor_runs_in_its_own_session_with_the_mesos_environment(
    real: tuple[LocalCluster, RawScheduler],
) -> None:
    cluster, sched = real
    offer = await _launch(sched, "t1")
    agent = cluster.agent(offer["agent_id"]["value"])
    executor = next(iter(agent.executors.values()))
    assert executor.pid is not None and os.getsid(executor.pid) == executor.pid
    stdout = str(Path(executor.directory) / "stdout")
    size = (await _read(cluster, stdout, -1))["offset"]
    assert size > 0
    read = await _read(cluster, stdout, 0)
    assert read["offset"] == 0
    env = json.loads(read["data"].splitlines()[0].removeprefix("raw executor env "))
    assert env["MESOS_AGENT_ENDPOINT"] == f"127.0.0.1:{agent.port}"
    assert env["MESOS_FRAMEWORK_ID"] == sched.framework_id
    assert env["MESOS_EXECUTOR_ID"] == "exec"
    assert env["MESOS_DIRECTORY"] == env["MESOS_SANDBOX"] == executor.directory
    assert env["MESOS_SLAVE_ID"] == agent.agent_id and env["MESOS_CHECKPOINT"] == "0"
    assert env["MESOS_SLAVE_PID"] == agent.pid
    await _message(sched, offer, "finish t1")
    finished = await sched.next_update("t1")
    assert finished["state"] == "TASK_FINISHED"
    assert finished["container_status"]["executor_pid"] == executor.pid


async def test_executor_exit_fails_its_live_tasks_and_reports_failure(
    real: tuple[LocalCluster, RawScheduler],
) -> None:
    cluster, sched = real
    offer = await _launch(sched, "t1", "t2")
    await _message(sched, offer, "exit 3")
    for tid in ("t1", "t2"):
        status = await sched.next_update(tid)
        assert status["state"] == "TASK_FAILED" and status["source"] == "SOURCE_AGENT"
        assert status["reason"] == "REASON_EXECUTOR_TERMINATED" and "uuid" in status
    failure = await sched.next(lambda e: e["type"] == "FAILURE")
    assert failure["failure"] == {
        "agent_id": offer["agent_id"],
        "executor_id": {"value": "exec"},
        "status": 3 << 8,
    }
    assert not cluster.agent(offer["agent_id"]["value"]).executors


async def test_teardown_shuts_the_executor_down_and_its_process_exits(
    real: tuple[LocalCluster, RawScheduler],
) -> None:
    cluster, sched = real
    offer = await _launch(sched, "t1")
    agent = cluster.agent(offer["agent_id"]["value"])
    pid = next(iter(agent.executors.values())).pid
    assert await sched.call({"type": "TEARDOWN"}) == 202
    await asyncio.wait_for(sched.closed.wait(), 5)
    await cluster.wait_for(lambda: not agent.executors)
    assert agent.exit_statuses == [0]  # it exited by itself on SHUTDOWN, inside the grace period
    assert pid is not None and not alive(pid)


async def test_killed_agent_kills_its_executor_process_group(
    real: tuple[LocalCluster, RawScheduler],
) -> None:
    cluster, sched = real
    offer = await _launch(sched, "t1")
    agent = cluster.agent(offer["agent_id"]["value"])
    pid = next(iter(agent.executors.values())).pid or 0
    await cluster.kill_agent(agent.agent_id)
    assert (await sched.next_update("t1"))["state"] == "TASK_LOST"

    await wait_pid_gone(pid)


async def test_killed_executor_process_fails_tasks_with_its_wait_status(
    real: tuple[LocalCluster, RawScheduler],
) -> None:
    cluster, sched = real
    offer = await _launch(sched, "t1")
    assert cluster.kill_executor(offer["agent_id"]["value"], "exec") == [sched.framework_id]
    status = await sched.next_update("t1")
    assert status["state"] == "TASK_FAILED" and status["reason"] == "REASON_EXECUTOR_TERMINATED"
    failure = await sched.next(lambda e: e["type"] == "FAILURE")
    assert failure["failure"]["status"] == 9  # killed by SIGKILL, as a raw wait status


async def test_agent_restart_keeps_checkpointed_executors_and_loses_the_others(
    real: tuple[LocalCluster, RawScheduler],
) -> None:
    cluster, plain = real
    durable = RawScheduler(cluster.url, name="durable")
    durable.info["checkpoint"] = True
    try:
        offer = await _launch(plain, "plain")
        await plain.call({"type": "SUPPRESS", "suppress": {}})  # the rest goes to durable
        await plain.sync()
        offers = [o for e in plain.events if e["type"] == "OFFERS" for o in e["offers"]["offers"]]
        await plain.decline(offers, refuse=60)  # used ones are ignored, as in Mesos
        await durable.subscribe()
        agent = cluster.agent(offer["agent_id"]["value"])
        offer2 = (await durable.offers())[0]
        await durable.accept(offer2, [task_info("kept", offer2, command=raw_executor_command())])
        await durable.next_update("kept", state="TASK_RUNNING")
        pid = next(
            e.pid for e in agent.executors.values() if e.framework_id == durable.framework_id
        )

        await cluster.restart_agent(agent.agent_id, downtime=0.2)
        lost = await plain.next_update("plain")
        assert lost["state"] == "TASK_LOST" and lost["reason"] == "REASON_AGENT_RESTARTED"
        executor = next(e for e in agent.executors.values() if e.pid == pid)
        await cluster.wait_for(lambda: executor.stream is not None)  # it re-subscribed
        await _message(durable, offer2, "finish kept")
        assert (await durable.next_update("kept"))["state"] == "TASK_FINISHED"
    finally:
        await durable.close()
