"""A task's OCC channel is its executor's alone, and a task sees only the environment it is given.

Real task processes (o2-sample-task under a TaskRunner); the intruder is another OCC client on
the same host, as any local user could run.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path

import pytest

from executor.errors import OccError
from executor.occ.auth import TOKEN_ENV
from executor.occ.grpc_adapter import OccClient, TransitionCall
from executor.occlink import free_loopback_port
from executor.runtime import TaskRunner
from executor.supervisor import CommandSpec
from mesosapi.o2messages import ControlItem, ControlRequest
from tests.executor.conftest import StatusLog, launch_spec, sample_task


async def launch_on_port(
    runner: TaskRunner, statuses: StatusLog, tmp_path: Path, task_id: str
) -> tuple[int, int]:
    """Launch a sample task on a known OCC port; (port, pid) once it is RUNNING in STANDBY."""
    port = free_loopback_port()
    spec = launch_spec(tmp_path, task_id, sample_task("--detector", "TPC"))
    await runner.launch(dataclasses.replace(spec, occ_port=port))
    running = await statuses.wait_for(task_id, "TASK_RUNNING")
    assert running.occ_state == "STANDBY" and running.pid is not None
    return port, running.pid


def proc_cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_text()


def proc_environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(entry.split("=", 1) for entry in raw.decode().split("\0") if "=" in entry)


async def control(runner: TaskRunner, task_id: str, event: str, **arguments: str) -> str:
    request = ControlRequest(
        request_id=f"r-{event}",
        items=(
            ControlItem(
                task_id=task_id, transition_id=f"x-{event}", event=event, arguments=arguments
            ),
        ),
        timeout_seconds=10,
    )
    (result,) = (await runner.control(request)).results
    assert result.ok, result
    return result.state


async def assert_refused(client: OccClient) -> None:
    with pytest.raises(OccError, match="UNAUTHENTICATED"):
        await client.get_state(deadline=5)
    for event in ("CONFIGURE", "EXIT"):
        call = TransitionCall(event=event, arguments={"card": "rogue"})
        with pytest.raises(OccError, match="UNAUTHENTICATED"):
            await client.transition(call, deadline=5)
    with pytest.raises(OccError, match="UNAUTHENTICATED"):
        async for _ in client.events():
            pass


@pytest.mark.parametrize("token", [None, "wrong-token"], ids=["no-token", "wrong-token"])
async def test_another_local_client_cannot_drive_the_task_and_its_state_does_not_change(
    runner: TaskRunner, statuses: StatusLog, tmp_path: Path, token: str | None
):
    port, _ = await launch_on_port(runner, statuses, tmp_path, "t1")
    intruder = OccClient(port, token=token)
    try:
        await assert_refused(intruder)
    finally:
        await intruder.close()
    # Still STANDBY (CONFIGURE would be illegal in CONFIGURED) and still alive (no EXIT ran).
    assert await control(runner, "t1", "CONFIGURE", card="cru-1") == "CONFIGURED"
    assert await control(runner, "t1", "START", run_number="7") == "RUNNING"
    assert "rogue" not in (tmp_path / "t1" / "stdout").read_text()
    assert statuses.states("t1") == ["TASK_STARTING", "TASK_RUNNING"]


async def test_each_launch_gets_its_own_token_only_through_its_environment(
    runner: TaskRunner, statuses: StatusLog, tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.DEBUG)
    port_a, pid_a = await launch_on_port(runner, statuses, tmp_path, "a")
    port_b, pid_b = await launch_on_port(runner, statuses, tmp_path, "b")
    token_a, token_b = proc_environ(pid_a)[TOKEN_ENV], proc_environ(pid_b)[TOKEN_ENV]
    assert len(token_a) >= 40 and token_a != token_b
    for pid, token in ((pid_a, token_a), (pid_b, token_b)):
        assert token not in proc_cmdline(pid)
    records = " ".join(str(vars(record)) for record in caplog.records)
    assert token_a not in records and token_b not in records
    owner, other = OccClient(port_a, token=token_a), OccClient(port_b, token=token_a)
    try:
        assert (await owner.get_state(deadline=5)).state == "STANDBY"
        await assert_refused(other)  # task a's token does not open task b
    finally:
        await owner.close()
        await other.close()


async def test_a_task_sees_path_and_its_taskclass_env_but_not_the_executors_secrets(
    runner: TaskRunner,
    statuses: StatusLog,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.setenv("MESOS_EXECUTOR_AUTHENTICATION_TOKEN", "agent-jwt")
    monkeypatch.setenv("O2_ETCD_PASSWORD", "etcd-password")
    monkeypatch.setenv("SOME_CREDENTIAL", "cloud-key")
    monkeypatch.setenv("MESOS_SANDBOX", str(tmp_path))
    monkeypatch.setenv("LC_TIME", "C")
    command = CommandSpec(value="env", env={"CARD": "cru-1"}, shell=True)
    await runner.launch(launch_spec(tmp_path, "env", command, control="process"))
    await statuses.wait_for("env", "TASK_FINISHED")
    lines = (tmp_path / "env" / "stdout").read_text().splitlines()
    seen = dict(line.split("=", 1) for line in lines if "=" in line)
    for secret in ("agent-jwt", "etcd-password", "cloud-key"):
        assert secret not in "\n".join(lines)
    assert seen["PATH"] == os.environ["PATH"]
    assert seen["CARD"] == "cru-1"
    assert seen["O2_TASK_ID"] == "env"
    assert seen["MESOS_SANDBOX"] == str(tmp_path)
    assert seen["LC_TIME"] == "C"
    assert TOKEN_ENV not in seen  # a basic task has no OCC channel
