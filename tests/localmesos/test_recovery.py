"""A cluster that exits keeping its executors, and the next one on the same work dir adopting
them (Mesos agent recovery across a restart of the whole local cluster)."""

from __future__ import annotations

import base64
import contextlib
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from localmesos import LocalCluster
from localmesos.model import ExecutorState
from procutil import alive, kill_group, signal_group, start_time
from tests.localmesos.conftest import FAST
from tests.localmesos.helpers import (
    Json,
    RawScheduler,
    raw_executor_command,
    task_info,
    wait_pid_gone,
)


def _durable(url: str, framework_id: str | None = None) -> RawScheduler:
    sched = RawScheduler(url, name="durable", failover_timeout=600)
    sched.info["checkpoint"] = True
    sched.framework_id = framework_id
    return sched


async def _launch_with_child(sched: RawScheduler) -> tuple[Json, int]:
    """One task on a real executor that runs a child process; (the offer, the child's pid)."""
    await sched.subscribe()
    offer = (await sched.offers())[0]
    info = task_info("kept", offer, command=raw_executor_command())
    info["data"] = base64.b64encode(b"child").decode()
    await sched.accept(offer, [info])
    running = await sched.next_update("kept", state="TASK_RUNNING")
    await sched.wait_acked(1)
    return offer, int(str(running["message"]).removeprefix("pid "))


async def _message(sched: RawScheduler, offer: Json, text: str) -> None:
    data = base64.b64encode(text.encode()).decode()
    body = {"agent_id": offer["agent_id"], "executor_id": {"value": "exec"}, "data": data}
    assert await sched.call({"type": "MESSAGE", "message": body}) == 202


def _kill(pids: list[int], starts: dict[int, int | None]) -> None:
    """Cleanup by pid, only while each pid still names the process we saw."""
    for pid in pids:
        if start_time(pid) is not None and start_time(pid) == starts.get(pid):
            with contextlib.suppress(OSError):
                kill_group(pid) if os.getpgid(pid) == pid else os.kill(pid, signal.SIGKILL)


@dataclass(frozen=True)
class Left:
    """What the first cluster left running for the next one."""

    offer: Json
    executor_pid: int
    child: int
    framework_id: str | None
    kept: int
    """Executors the first cluster's stop reported left running."""


async def _leave_running(
    tmp_path: Path,
    pids: list[int],
    starts: dict[int, int | None],
    *,
    before_stop: Callable[[int], None] | None = None,
) -> Left:
    """A first cluster on `tmp_path` runs one task with a child, then stops keeping its
    executor (`before_stop(executor pid)` first). The pids go into `pids`/`starts` as soon as
    they are known, for the caller's cleanup; on a failure before the kept stop, `async with`
    kills everything."""
    async with LocalCluster(agents=1, timers=FAST, work_dir=tmp_path) as first:
        sched = _durable(first.url)
        try:
            offer, child = await _launch_with_child(sched)
            agent = first.agent(offer["agent_id"]["value"])
            executor_pid = next(iter(agent.executors.values())).pid
            assert executor_pid is not None
            pids += [executor_pid, child]
            starts.update({pid: start_time(pid) for pid in pids})
            if before_stop is not None:
                before_stop(executor_pid)
            kept = await first.stop(keep_executors=True)
        finally:
            await sched.close()
    return Left(offer, executor_pid, child, sched.framework_id, kept)


async def test_cluster_restarted_on_its_work_dir_adopts_the_executors_it_left_running(
    tmp_path: Path,
) -> None:
    pids: list[int] = []
    starts: dict[int, int | None] = {}
    try:
        left = await _leave_running(tmp_path, pids, starts)
        assert left.kept == 1
        offer, executor_pid, child = left.offer, left.executor_pid, left.child
        agent_id = offer["agent_id"]["value"]
        assert alive(executor_pid) and alive(child)

        async with LocalCluster(agents=1, timers=FAST, work_dir=tmp_path) as second:
            assert second.agent_ids == [agent_id]
            executor = next(iter(second.agent(agent_id).executors.values()))
            assert executor.pid == executor_pid
            await second.wait_for(lambda: executor.state is ExecutorState.RUNNING)
            again = _durable(second.url, left.framework_id)
            try:
                await again.subscribe()
                reconcile = {
                    "tasks": [{"task_id": {"value": "kept"}, "agent_id": offer["agent_id"]}]
                }
                assert await again.call({"type": "RECONCILE", "reconcile": reconcile}) == 202
                status = await again.next_update("kept", state="TASK_RUNNING")
                assert status["reason"] == "REASON_RECONCILIATION"
                assert start_time(executor_pid) == starts[executor_pid]  # same processes
                assert start_time(child) == starts[child]
                await _message(again, offer, "finish kept")  # and it still answers
                assert (await again.next_update("kept"))["state"] == "TASK_FINISHED"
            finally:
                await again.close()
    finally:
        _kill(pids, starts)


async def test_an_executor_gone_while_the_cluster_was_down_fails_its_task_on_recovery(
    tmp_path: Path,
) -> None:
    pids: list[int] = []
    starts: dict[int, int | None] = {}
    try:
        left = await _leave_running(tmp_path, pids, starts)
        _kill(pids, starts)  # dies while no cluster runs

        async with LocalCluster(agents=1, timers=FAST, work_dir=tmp_path) as second:
            again = _durable(second.url, left.framework_id)
            try:
                await again.subscribe()
                failed = await again.next_update("kept", state="TASK_FAILED")
                assert failed["reason"] == "REASON_EXECUTOR_TERMINATED"
                await again.wait_acked(1)
                agent = second.agent(left.offer["agent_id"]["value"])
                assert not agent.tasks and not agent.executors  # forgotten, resources freed
                assert agent.ledger.used.is_empty()
            finally:
                await again.close()
    finally:
        _kill(pids, starts)


async def test_a_task_that_died_while_the_cluster_was_down_is_reported_before_the_master_serves(
    tmp_path: Path,
) -> None:
    """Mesos agent recovery: the agents wait for their executors to re-subscribe (with the
    updates they could not send) before registering, so the master never answers from the
    checkpoint alone; a reconciliation right away says the task failed, not that it runs."""
    pids: list[int] = []
    starts: dict[int, int | None] = {}
    try:
        left = await _leave_running(tmp_path, pids, starts)
        os.kill(left.child, signal.SIGKILL)  # the task dies; its executor lives on
        await wait_pid_gone(left.child)  # reaped by the executor, which keeps the update

        async with LocalCluster(agents=1, timers=FAST, work_dir=tmp_path) as second:
            agent = second.agent(left.offer["agent_id"]["value"])
            assert [t.state for t in agent.tasks.values()] == ["TASK_FAILED"]
            again = _durable(second.url, left.framework_id)
            try:
                await again.subscribe()
                reconcile = {
                    "tasks": [{"task_id": {"value": "kept"}, "agent_id": left.offer["agent_id"]}]
                }
                assert await again.call({"type": "RECONCILE", "reconcile": reconcile}) == 202
                failed = await again.next_update("kept")
                assert failed["state"] == "TASK_FAILED"
                assert start_time(left.executor_pid) == starts[left.executor_pid]
            finally:
                await again.close()
    finally:
        _kill(pids, starts)


async def test_an_adopted_executor_that_does_not_resubscribe_in_time_is_killed(
    tmp_path: Path,
) -> None:
    pids: list[int] = []
    starts: dict[int, int | None] = {}
    try:
        # alive, but it will not re-subscribe
        left = await _leave_running(
            tmp_path, pids, starts, before_stop=lambda pid: signal_group(pid, signal.SIGSTOP)
        )

        short = replace(FAST, executor_recovery_timeout=0.5)
        async with LocalCluster(agents=1, timers=short, work_dir=tmp_path) as second:
            again = _durable(second.url, left.framework_id)
            try:
                await again.subscribe()
                failed = await again.next_update("kept", state="TASK_FAILED")
                assert failed["reason"] == "REASON_EXECUTOR_REREGISTRATION_TIMEOUT"
                await wait_pid_gone(left.executor_pid)
                await wait_pid_gone(left.child)  # the executor's whole session went
            finally:
                await again.close()
    finally:
        _kill(pids, starts)
