"""Process supervision with real subprocesses: argv vs shell, exits, signals, ladder, pdeath."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from controller.environments.expand import expand
from executor.errors import SpawnError
from executor.supervisor import CommandSpec, spawn
from procutil import exits_within
from tests.environments.helpers import with_vars
from tests.environments.test_expand import ENV, taskclass, workflow
from tests.executor.conftest import PROGRAMS, PY_ENV, make_fifo, python_command, wait_fifo

PRINT_ARGV = "import sys; print(repr(sys.argv[1:]))"


async def test_argv_reaches_the_program_literally_without_a_shell(tmp_path: Path):
    command = python_command("-c", PRINT_ARGV, "$HOME;rm", "*")
    process = spawn("t", command, sandbox=tmp_path / "t")
    status = await process.wait()
    assert status.success
    assert process.stdout_path.read_text().strip() == repr(["$HOME;rm", "*"])


async def test_shell_true_runs_through_sh(tmp_path: Path):
    command = CommandSpec(value="echo home=$HOME", shell=True, env={"HOME": "/nowhere"})
    process = spawn("t", command, sandbox=tmp_path / "t")
    assert (await process.wait()).success
    assert process.stdout_path.read_text().strip() == "home=/nowhere"


async def test_shell_arguments_are_joined_unquoted_as_aliecs_joins_them(tmp_path: Path):
    """AliECS's task templates quote inside their arguments (`--backend='no-op://'`): with
    `shellArguments` the shell reads them, so the program gets the value without the quotes."""
    arguments = ("--backend='no-op://'", "--n=$((1+2))")
    command = CommandSpec(
        value=f"{sys.executable} -c '{PRINT_ARGV}'",
        arguments=arguments,
        shell=True,
        shell_arguments=True,
    )
    process = spawn("t", command, sandbox=tmp_path / "t")
    assert (await process.wait()).success
    assert process.stdout_path.read_text().strip() == repr(["--backend=no-op://", "--n=3"])
    quoted = spawn("q", CommandSpec(command.value, arguments, shell=True), sandbox=tmp_path / "q")
    assert (await quoted.wait()).success  # o2's default: each argument one literal word
    assert quoted.stdout_path.read_text().strip() == repr(list(arguments))


async def test_cwd_is_the_sandbox_and_stderr_is_captured(tmp_path: Path):
    code = "import os, sys; print(os.getcwd()); print('oops', file=sys.stderr); sys.exit(3)"
    process = spawn("t", python_command("-c", code), sandbox=tmp_path / "t")
    status = await process.wait()
    assert (status.exit_code, status.signal) == (3, None)
    assert process.stdout_path.read_text().strip() == str(tmp_path / "t")
    assert process.stderr_path.read_text().strip() == "oops"


async def test_missing_command_is_a_spawn_error_naming_it(tmp_path: Path):
    with pytest.raises(SpawnError, match="no-such-program-o2"):
        spawn("t", CommandSpec(value="no-such-program-o2"), sandbox=tmp_path / "t")


async def test_kill_9_is_reported_with_the_signal(tmp_path: Path):
    process = spawn("t", python_command("-c", "import time; time.sleep(60)"), sandbox=tmp_path)
    os.kill(process.pid, signal.SIGKILL)
    status = await process.wait()
    assert (status.exit_code, status.signal) == (None, signal.SIGKILL)
    assert "SIGKILL" in status.describe()


async def test_process_runs_in_its_own_session(tmp_path: Path):
    process = spawn("t", python_command("-c", "import time; time.sleep(60)"), sandbox=tmp_path)
    try:
        assert os.getsid(process.pid) == process.pid
        assert os.getpgid(process.pid) == process.pid
    finally:
        process.signal_group(signal.SIGKILL)
        await process.wait()


async def test_terminate_escalates_to_sigkill_when_sigterm_is_ignored(tmp_path: Path):
    code = (
        "import signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "open(sys.argv[1], 'w').write('ready'); time.sleep(60)"
    )
    fifo = make_fifo(tmp_path / "ready")
    process = spawn("t", python_command("-c", code, str(fifo)), sandbox=tmp_path / "t")
    assert await asyncio.to_thread(wait_fifo, fifo) == "ready"
    status = await process.terminate(grace=0.5)
    assert status.signal == signal.SIGKILL


async def test_sigterm_ends_a_cooperative_process_within_grace(tmp_path: Path):
    process = spawn("t", python_command("-c", "import time; time.sleep(60)"), sandbox=tmp_path)
    status = await process.terminate(grace=10)
    assert status.signal == signal.SIGTERM


async def test_stray_children_die_with_the_group_leader(tmp_path: Path):
    command = CommandSpec(value="sleep 300 & echo $!", shell=True)
    process = spawn("t", command, sandbox=tmp_path)
    assert (await process.wait()).success
    stray = int(process.stdout_path.read_text().strip())
    assert exits_within(stray, 10)


def test_children_die_when_their_supervisor_is_killed(tmp_path: Path):
    fifo = make_fifo(tmp_path / "ready")
    supervisor = subprocess.Popen(
        [sys.executable, str(PROGRAMS / "supervise_one.py"), str(tmp_path / "sb"), str(fifo)],
        stdout=subprocess.PIPE,
        env={**os.environ, **PY_ENV},
        text=True,
    )
    child = 0
    try:
        assert supervisor.stdout is not None
        child = int(supervisor.stdout.readline())
        # Kill only once the task program runs (past the wrapper's own parent check).
        assert wait_fifo(fifo) == "ready"
        os.kill(supervisor.pid, signal.SIGKILL)
        supervisor.wait(timeout=10)
        assert exits_within(child, 10), "the task outlived its supervisor"
    finally:
        supervisor.kill()
        supervisor.wait()
        if supervisor.stdout is not None:
            supervisor.stdout.close()
        if child and not exits_within(child, 0):
            os.kill(child, signal.SIGKILL)


async def test_shell_true_takes_a_rendered_argument_literally(tmp_path: Path) -> None:
    """An argument rendered from an Environment variable cannot add shell commands."""
    pwned = tmp_path / "pwned"
    cls = taskclass(
        "echoer", command={"value": "echo got:", "arguments": ["{{ note }}", "*"], "shell": True}
    )
    flow = workflow({"roles": [{"name": "say", "task": {"class": "echoer"}}]})
    env = with_vars(ENV, note=f"x; touch {pwned}")
    (task,) = expand(env, flow, {"echoer": cls}, run_number=None).tasks.values()
    command = task.spec.command
    spec = CommandSpec(command.value, tuple(command.arguments), dict(command.env), command.shell)
    process = spawn("t", spec, sandbox=tmp_path / "t")
    assert (await process.wait()).success
    assert process.stdout_path.read_text().strip() == f"got: x; touch {pwned} *"
    assert not pwned.exists()


async def test_task_processes_do_not_inherit_the_executor_authentication_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("MESOS_EXECUTOR_AUTHENTICATION_TOKEN", "executor-only")
    code = "import os; print(os.environ.get('MESOS_EXECUTOR_AUTHENTICATION_TOKEN', 'absent'))"
    process = spawn("t", python_command("-c", code), sandbox=tmp_path / "t")
    assert (await process.wait()).success
    assert process.stdout_path.read_text().strip() == "absent"
