"""`command.user`, `command.stdout/stderr` and the memory limit, with real task processes."""

from __future__ import annotations

import os
import pwd
import subprocess
import sys
from pathlib import Path

import pytest

from executor import memlimit, taskio
from executor.errors import SpawnError
from executor.runtime import LaunchSpec, TaskRunner
from executor.supervisor import CommandSpec, spawn
from tests.executor.conftest import StatusLog, python_command

OWN_USER = pwd.getpwuid(os.geteuid()).pw_name
WHO = "import os, pwd, sys; print(pwd.getpwuid(os.geteuid()).pw_name); print('e', file=sys.stderr)"


def who(**fields: str) -> CommandSpec:
    base = python_command("-c", WHO)
    return CommandSpec(value=base.value, arguments=base.arguments, env=base.env, **fields)


def other_user() -> pwd.struct_passwd:
    for name in ("nobody", "daemon", "bin"):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        if entry.pw_uid != os.geteuid():
            return entry
    pytest.skip("no second user on this host")


async def test_own_user_runs_the_process_unchanged(tmp_path: Path):
    process = spawn("t", who(user=OWN_USER), sandbox=tmp_path / "t")
    assert (await process.wait()).success
    assert process.stdout_path.read_text().splitlines() == [OWN_USER]


async def test_unknown_user_fails_the_launch_clearly(tmp_path: Path):
    with pytest.raises(SpawnError, match="cannot run as user 'no-such-user-o2': no such user"):
        spawn("t", who(user="no-such-user-o2"), sandbox=tmp_path / "t")


async def test_another_user_fails_when_the_executor_is_not_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    executor = other_user()
    target = "root" if executor.pw_name != "root" else OWN_USER
    monkeypatch.setattr(taskio.os, "geteuid", lambda: executor.pw_uid)
    expected = (
        f"cannot run as user '{target}': the executor runs as '{executor.pw_name}' and is not root"
    )
    with pytest.raises(SpawnError) as raised:
        spawn("t", who(user=target), sandbox=tmp_path / "t")
    assert expected in str(raised.value)


async def test_failed_user_switch_fails_the_task_with_the_reason_in_its_status(
    runner: TaskRunner, statuses: StatusLog, tmp_path: Path
):
    spec = LaunchSpec(task_id="t", command=who(user="no-such-user-o2"), sandbox=tmp_path / "t")
    await runner.launch(spec)
    failed = await statuses.wait_for("t", "TASK_FAILED")
    assert "cannot run as user 'no-such-user-o2'" in failed.message


def reachable_by(entry: pwd.struct_passwd) -> bool:
    """The user can run this Python (the exec wrapper runs as the task's user first)."""
    try:
        subprocess.run([sys.executable, "-c", "pass"], user=entry.pw_uid, check=True)
    except (OSError, subprocess.CalledProcessError):
        return False
    return True


@pytest.mark.skipif(os.geteuid() != 0, reason="switching users needs root")
async def test_root_executor_runs_the_process_as_the_user(tmp_path: Path):
    target = other_user()
    if not reachable_by(target):
        pytest.skip(f"{target.pw_name} cannot run {sys.executable} on this host")
    process = spawn("t", who(user=target.pw_name), sandbox=tmp_path / "t")
    assert (await process.wait()).success
    assert process.stdout_path.read_text().splitlines() == [target.pw_name]
    assert (tmp_path / "t").stat().st_uid == target.pw_uid  # its cwd is its own


async def test_none_discards_the_output(tmp_path: Path, capfd: pytest.CaptureFixture[str]):
    process = spawn("t", who(stdout="none", stderr="none"), sandbox=tmp_path / "t")
    assert (await process.wait()).success
    assert not process.stdout_path.exists() and not process.stderr_path.exists()
    assert "task-std" not in "".join(capfd.readouterr())


async def test_stdout_mode_copies_lines_into_the_executor_output_only(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
):
    process = spawn("t1", who(stdout="stdout", stderr="stdout"), sandbox=tmp_path / "t1")
    assert (await process.wait()).success
    for forwarder in process.forwarders:
        await forwarder.done.wait()
    out, err = capfd.readouterr()
    assert f"task-stdout t1: {OWN_USER}\n" in out
    assert "task-stderr t1: e\n" in err
    assert not process.stdout_path.exists() and not process.stderr_path.exists()


async def test_all_mode_keeps_the_sandbox_file_too(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
):
    process = spawn("t1", who(stdout="all"), sandbox=tmp_path / "t1")
    assert (await process.wait()).success
    for forwarder in process.forwarders:
        await forwarder.done.wait()
    assert f"task-stdout t1: {OWN_USER}\n" in capfd.readouterr().out
    assert process.stdout_path.read_text() == f"{OWN_USER}\n"
    assert process.stderr_path.read_text() == "e\n"  # stderr left at o2's default


async def test_default_output_stays_in_the_sandbox(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
):
    process = spawn("t1", who(), sandbox=tmp_path / "t1")
    assert (await process.wait()).success
    assert process.stdout_path.read_text() == f"{OWN_USER}\n"
    assert "task-std" not in "".join(capfd.readouterr())


GROW = (
    "import sys, time; b = bytearray(400 * 1024 * 1024); print('grown', flush=True); time.sleep(60)"
)


async def test_memory_limit_kills_the_task_with_mesos_reason(
    runner: TaskRunner, statuses: StatusLog, tmp_path: Path
):
    spec = LaunchSpec(
        task_id="big",
        command=python_command("-c", GROW),
        sandbox=tmp_path / "big",
        control="process",
        memory_limit_mb=100,
    )
    await runner.launch(spec)
    failed = await statuses.wait_for("big", "TASK_FAILED")
    assert failed.reason == memlimit.REASON
    assert "memory limit of 100 MB exceeded" in failed.message
    assert failed.signal == 9


async def test_memory_within_the_limit_is_left_alone(
    runner: TaskRunner, statuses: StatusLog, tmp_path: Path
):
    spec = LaunchSpec(
        task_id="small",
        command=python_command("-c", "print('ok')"),
        sandbox=tmp_path / "small",
        control="process",
        memory_limit_mb=1000,
    )
    await runner.launch(spec)
    finished = await statuses.wait_for("small", "TASK_FINISHED")
    assert finished.exit_code == 0 and finished.reason == ""


def test_group_rss_counts_this_process_group():
    assert memlimit.group_rss(os.getpgid(0)) > 1024 * 1024
    assert memlimit.verdict(10 * memlimit.MB, limit_mb=20) == ""
    assert "limit of 5 MB" in memlimit.verdict(10 * memlimit.MB, limit_mb=5)
