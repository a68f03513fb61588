"""The real o2 executor under the real local cluster, driven by o2's SchedulerClient."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from crds.kinds.common import Command
from mesosapi.models import ExecutorInfo, TaskId
from mesosapi.o2messages import (
    ControlResults,
    DeviceEventMessage,
    LaunchPayload,
    decode_to_controller,
    encode,
)
from mesosapi.scheduler import Failure, Message, Update
from procutil import wait_exit
from tests.executor_main.helpers import (
    CONSOLE_SCRIPT,
    EXECUTOR_ID,
    REPO,
    Scheduler,
    alive,
    control,
    is_update,
    o2_executor,
    sample_payload,
    sandbox_of,
    scheduler,
    status_data,
)
from tests.mesos_fixture import LocalMesosFactory, LocalMesosProcess

pytestmark = pytest.mark.timeout(120)

CLUSTER_ARGS = ("--agents", "1", "--heartbeat-interval", "1", "--allocation-interval", "0.1")


@pytest.fixture
def cluster(localmesos_factory: LocalMesosFactory) -> LocalMesosProcess:
    return localmesos_factory(*CLUSTER_ARGS, "--shutdown-grace", "4")


async def _running(
    sched: Scheduler, names: tuple[str, ...], *, executor: ExecutorInfo | None = None
) -> dict[str, int]:
    """Launch `names` in one ACCEPT; their pids once all are TASK_RUNNING."""
    await sched.launch(names, executor=executor)
    pids = {}
    for name in names:
        running = await sched.wait_for(Update, is_update(name, "TASK_RUNNING"))
        data = status_data(running)
        assert data.state == "STANDBY" and data.pid is not None
        pids[name] = data.pid
    return pids


async def test_two_tasks_run_in_one_executor_after_standby_and_are_reported(
    cluster: LocalMesosProcess,
) -> None:
    async with scheduler(cluster.address) as sched:
        pids = await _running(sched, ("t1", "t2"))

        for name in ("t1", "t2"):
            assert sched.updates(name)[:2] == ["TASK_STARTING", "TASK_RUNNING"]
        executors = {e.status.executor_id for e in sched.events if isinstance(e, Update)}
        assert executors == {EXECUTOR_ID}
        assert {name: sandbox_of(pid).name for name, pid in pids.items()} == {
            "t1": "t1",
            "t2": "t2",
        }
        assert len({sandbox_of(pid).parent for pid in pids.values()}) == 1  # one executor sandbox

        mark = len(sched.events)
        first = await sched.report(after=mark)
        later = await sched.report(newer_than=first.sequence, after=mark)
        rows = {row.task_id: (row.phase, row.state, row.pid) for row in later.tasks}
        assert rows == {
            "t1": ("running", "STANDBY", pids["t1"]),
            "t2": ("running", "STANDBY", pids["t2"]),
        }


def _stdout(pid: int) -> str:
    return (sandbox_of(pid) / "stdout").read_text()


async def test_one_message_configures_and_starts_both_tasks_and_a_repeat_is_not_rerun(
    cluster: LocalMesosProcess,
) -> None:
    async with scheduler(cluster.address) as sched:
        pids = await _running(sched, ("t1", "t2"))

        mark = len(sched.events)
        configure = [
            ("t1", "c1", "CONFIGURE", {"detector": "TPC", "rate": "5"}),
            ("t2", "c2", "CONFIGURE", {"detector": "ITS"}),
        ]
        await sched.send(control("req-1", configure))
        results = await sched.results("req-1", after=mark)
        assert [(r.task_id, r.ok, r.state) for r in results.results] == [
            ("t1", True, "CONFIGURED"),
            ("t2", True, "CONFIGURED"),
        ]
        replies = [m for m in sched.messages(after=mark) if isinstance(m, ControlResults)]
        assert len(replies) == 1
        assert 'properties={"detector": "TPC", "rate": "5"}' in _stdout(pids["t1"])
        assert 'properties={"detector": "ITS"}' in _stdout(pids["t2"])

        start = [
            ("t1", "s1", "START", {"run_number": "42"}),
            ("t2", "s2", "START", {"run_number": "42"}),
        ]
        await sched.send(control("req-2", start))
        started = await sched.results("req-2", after=mark)
        assert {(r.task_id, r.state) for r in started.results} == {
            ("t1", "RUNNING"),
            ("t2", "RUNNING"),
        }
        mark = len(sched.events)
        await sched.send(control("req-2", start))
        again = await sched.results("req-2", after=mark)
        assert again == started
        assert _stdout(pids["t1"]).count("transition START -> RUNNING") == 1
        assert "run_number=42" in _stdout(pids["t1"])


async def test_kill_runs_the_ladder_and_a_sigkilled_task_fails_with_its_signal(
    cluster: LocalMesosProcess,
) -> None:
    async with scheduler(cluster.address) as sched:
        pids = await _running(sched, ("t1", "t2", "t3"))

        await sched.client.kill(TaskId("t1"), agent_id=sched.agent_id)
        killed = await sched.wait_for(Update, is_update("t1", "TASK_KILLED"))
        assert (status_data(killed).state, status_data(killed).exit_code) == ("DONE", 0)
        assert not alive(pids["t1"])

        os.kill(pids["t2"], signal.SIGKILL)
        failed = await sched.wait_for(Update, is_update("t2", "TASK_FAILED"))
        assert status_data(failed).signal == signal.SIGKILL
        assert failed.status.reason == "REASON_COMMAND_EXECUTOR_FAILED"
        assert "signal 9" in (failed.status.message or "")

        mark = len(sched.events)
        report = await sched.report(after=mark)
        while {row.task_id for row in report.tasks} != {"t3"}:  # exited rows go once ACKed
            report = await sched.report(newer_than=report.sequence, after=mark)
        assert alive(pids["t3"])
        assert "transition EXIT -> DONE" in _stdout_file("t1", sibling=pids["t3"])


def _stdout_file(task: str, *, sibling: int) -> str:
    """The stdout of an exited task, found next to a live sibling's sandbox."""
    return (sandbox_of(sibling).parent / task / "stdout").read_text()


async def test_a_killed_executor_takes_its_tasks_with_it_and_they_are_reported_gone(
    cluster: LocalMesosProcess,
) -> None:
    async with scheduler(cluster.address) as sched:
        pids = await _running(sched, ("t1", "t2"))
        executor_pid = _parent(pids["t1"])
        assert _parent(pids["t2"]) == executor_pid

        os.kill(executor_pid, signal.SIGKILL)
        for name in ("t1", "t2"):
            gone = await sched.wait_for(Update, is_update(name, "TASK_FAILED", "TASK_LOST"))
            assert gone.status.source == "SOURCE_AGENT"
        for pid in pids.values():
            await _until_dead(pid)


async def test_shutdown_kills_every_task_reports_them_killed_and_exits_cleanly(
    cluster: LocalMesosProcess,
) -> None:
    if not CONSOLE_SCRIPT.exists():
        pytest.skip("the o2-executor console script is not installed (pip install -e .)")
    async with scheduler(cluster.address) as sched:
        pids = await _running(sched, ("t1", "t2"), executor=o2_executor(script=True))
        executor_pid = _parent(pids["t1"])
        assert sched.agent_id is not None

        await sched.client.shutdown_executor(EXECUTOR_ID, sched.agent_id)
        for name in ("t1", "t2"):
            killed = await sched.wait_for(Update, is_update(name, "TASK_KILLED"))
            assert killed.status.source == "SOURCE_EXECUTOR"
            assert status_data(killed).state == "DONE"
        failure = await sched.wait_for(Failure, lambda e: e.executor_id == EXECUTOR_ID)
        assert failure.status == 0
        assert not alive(executor_pid)
        assert not any(alive(pid) for pid in pids.values())


def _parent(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[1])


async def _until_dead(pid: int, *, within: float = 10.0) -> None:
    """Wait for `pid` to end, through a pidfd (an event, not a poll)."""
    async with asyncio.timeout(within):
        await wait_exit(pid)


async def test_end_of_stream_is_forwarded_and_bad_launches_fail_only_their_task(
    cluster: LocalMesosProcess,
) -> None:
    async with scheduler(cluster.address) as sched:
        eos = sample_payload("--eos-after", "0.1", "--tick", "0.1")
        bad = {"t1": eos, "bad": b'{"control": "occ"}'}
        await sched.launch(("t1", "bad", "no good"), data=bad)
        failed = await sched.wait_for(Update, is_update("bad", "TASK_FAILED"))
        assert "command" in (failed.status.message or "")
        assert failed.status.reason == "REASON_CONTAINER_LAUNCH_FAILED"
        refused = await sched.wait_for(Update, is_update("no good", "TASK_FAILED"))
        assert refused.status.reason == "REASON_TASK_INVALID"
        await sched.wait_for(Update, is_update("t1", "TASK_RUNNING"))

        mark = len(sched.events)
        steps = [("t1", "c", "CONFIGURE", {}), ("t1", "s", "START", {"run_number": "7"})]
        await sched.send(control("go", steps))
        results = await sched.results("go", after=mark)
        assert [r.state for r in results.results] == ["CONFIGURED", "RUNNING"]
        event = await sched.wait_for(
            Message, lambda m: isinstance(decode_to_controller(m.data), DeviceEventMessage)
        )
        body = decode_to_controller(event.data)
        assert isinstance(body, DeviceEventMessage)
        assert (body.task_id, body.event) == ("t1", "END_OF_STREAM")


async def test_executor_kills_its_tasks_and_exits_when_the_agent_stays_gone(
    localmesos_factory: LocalMesosFactory,
) -> None:
    cluster = localmesos_factory(*CLUSTER_ARGS, "--recovery-timeout", "1")
    async with scheduler(cluster.address) as sched:
        pids = await _running(sched, ("t1",))
        executor_pid = _parent(pids["t1"])
        executor_log = sandbox_of(pids["t1"]).parent / "stderr"
        try:
            cluster.proc.kill()  # the agent is gone; the executor lives in its own session
            cluster.proc.wait()
            await _until_dead(executor_pid, within=20)
            await _until_dead(pids["t1"])
        finally:
            for pid in (executor_pid, pids["t1"]):
                if alive(pid):
                    os.kill(pid, signal.SIGKILL)
        text = executor_log.read_text()
        assert "Agent gone past the recovery timeout" in text
        assert "Executor exiting code=1" in text


async def test_sigterm_to_the_executor_kills_its_tasks_and_exits_zero(
    cluster: LocalMesosProcess,
) -> None:
    async with scheduler(cluster.address) as sched:
        pids = await _running(sched, ("t1",))
        executor_pid = _parent(pids["t1"])

        os.kill(executor_pid, signal.SIGTERM)
        killed = await sched.wait_for(Update, is_update("t1", "TASK_KILLED", "TASK_FAILED"))
        assert (killed.status.state, killed.status.source) == ("TASK_KILLED", "SOURCE_EXECUTOR")
        failure = await sched.wait_for(Failure, lambda e: e.executor_id == EXECUTOR_ID)
        assert failure.status == 0
        assert not alive(pids["t1"])


async def test_after_an_agent_restart_the_executor_resubscribes_reports_and_keeps_its_tasks(
    cluster: LocalMesosProcess,
) -> None:
    async with scheduler(cluster.address) as sched:
        quiet = o2_executor({"O2_EXECUTOR_REPORT_INTERVAL": "600"})  # only (re)subscribe reports
        pids = await _running(sched, ("t1",), executor=quiet)
        assert sched.agent_id is not None

        mark = len(sched.events)
        await asyncio.to_thread(
            cluster.post, f"/localmesos/agents/{sched.agent_id}/restart?downtime=0.5"
        )
        report = await sched.report(after=mark)
        assert [(row.task_id, row.pid, row.state) for row in report.tasks] == [
            ("t1", pids["t1"], "STANDBY")
        ]
        await sched.send(control("after", [("t1", "c", "CONFIGURE", {})]))
        results = await sched.results("after", after=mark)
        assert [r.state for r in results.results] == ["CONFIGURED"]
        assert sched.updates("t1")[-1] == "TASK_RUNNING"
        executor_log = (sandbox_of(pids["t1"]).parent / "stderr").read_text()
        assert executor_log.count("Subscribed to the agent") == 2


async def test_a_kill_policy_grace_replaces_the_default_before_sigkill(
    cluster: LocalMesosProcess,
) -> None:
    async with scheduler(cluster.address) as sched:
        patient = o2_executor({"O2_EXECUTOR_KILL_STEP": "0.5", "O2_EXECUTOR_KILL_GRACE": "60"})
        stubborn = Command(  # hangs in EXIT and ignores SIGTERM: only SIGKILL ends it
            value=sys.executable,
            arguments=("-m", "tests.executor.programs.stubborn_task"),
            env={"PYTHONPATH": REPO},
        )
        await sched.launch(
            ("t1",), executor=patient, data={"t1": encode(LaunchPayload(command=stubborn))}
        )
        await sched.wait_for(Update, is_update("t1", "TASK_RUNNING"))

        await sched.client.kill(TaskId("t1"), agent_id=sched.agent_id, grace_seconds=0.2)
        killed = await sched.wait_for(Update, is_update("t1", "TASK_KILLED"), within=20)
        assert status_data(killed).signal == signal.SIGKILL
