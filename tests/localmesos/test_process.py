"""Real executor subprocesses: environment, session, sandbox logs, exit, teardown."""

from __future__ import annotations

import asyncio
import base64
import json
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import pytest

from localmesos import LocalCluster
from tests.localmesos.conftest import FAST
from tests.localmesos.helpers import Json, RawScheduler, raw_executor_command, task_info


@pytest.fixture
async def real(tmp_path: Path) -> AsyncIterator[tuple[LocalCluster, RawScheduler]]:
    async with LocalCluster(agents=1, timers=FAST, work_dir=tmp_path) as cluster:
        sched = RawScheduler(cluster.url)
        try:
            yield cluster, sched
        finally:
            await sched.close()


async def _eventually(predicate: Callable[[], bool], *, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.02)


async def _launch(sched: RawScheduler, *task_ids: str) -> Json:
    await sched.subscribe()
    offer = (await sched.offers())[0]
    tasks = [task_info(t, offer, command=raw_executor_command()) for t in task_ids]
    await sched.accept(offer, tasks)
    for tid in task_ids:
        await sched.next_update(tid, state="TASK_RUNNING")
    return offer


async def _message(sched: RawScheduler, offer: Json, text: str) -> None:
    data = base64.b64encode(text.encode()).decode()
    status = await sched.call({"type": "MESSAGE", "message": {
        "agent_id": offer["agent_id"], "executor_id": {"value": "exec"}, "data": data}})
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
    assert failure["failure"] == {"agent_id": offer["agent_id"],
                                  "executor_id": {"value": "exec"}, "status": 3 << 8}
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
    await _eventually(lambda: not agent.executors)
    assert agent.exit_statuses == [0]  # it exited by itself on SHUTDOWN, inside the grace period
    with pytest.raises(ProcessLookupError):
        os.kill(pid or 0, 0)


async def test_killed_agent_kills_its_executor_process_group(
    real: tuple[LocalCluster, RawScheduler],
) -> None:
    cluster, sched = real
    offer = await _launch(sched, "t1")
    agent = cluster.agent(offer["agent_id"]["value"])
    pid = next(iter(agent.executors.values())).pid or 0
    await cluster.kill_agent(agent.agent_id)
    assert (await sched.next_update("t1"))["state"] == "TASK_LOST"

    def gone() -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False

    await _eventually(gone)


def _command_task(task_id: str, offer: Json, command: str) -> Json:
    info = task_info(task_id, offer, executor_id=None)
    info["command"] = {"value": command}
    return info


async def test_command_task_runs_under_the_command_executor(
    real: tuple[LocalCluster, RawScheduler],
) -> None:
    cluster, sched = real
    await sched.subscribe()
    offer = (await sched.offers())[0]
    await sched.accept(offer, [_command_task("ok", offer, "echo hello-from-command"),
                               _command_task("bad", offer, "exit 4")])
    for tid, final in (("ok", "TASK_FINISHED"), ("bad", "TASK_FAILED")):
        statuses = [await sched.next_update(tid) for _ in range(3)]
        assert [s["state"] for s in statuses] == ["TASK_STARTING", "TASK_RUNNING", final]
        sched._cursor = 0  # both tasks' streams interleave: rescan from the start
    assert statuses[-1]["message"] == "Command exited with status 4"
    stdout = next(cluster.work_dir.glob("slaves/*/frameworks/*/executors/ok/runs/*/stdout"))
    assert "hello-from-command" in (await _read(cluster, str(stdout), 0))["data"]


async def test_killed_command_task_reports_killed(real: tuple[LocalCluster, RawScheduler]) -> None:
    _, sched = real
    await sched.subscribe()
    offer = (await sched.offers())[0]
    await sched.accept(offer, [_command_task("long", offer, "sleep 30")])
    await sched.next_update("long", state="TASK_RUNNING")
    await sched.call({"type": "KILL", "kill": {"task_id": {"value": "long"}}})
    assert (await sched.next_update("long"))["state"] == "TASK_KILLED"
