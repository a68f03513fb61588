"""Executor processes: sandbox, MESOS_* environment, spawn in a new session, process-group kill,
and leaving them running (detach) or taking them over (adopt) across a cluster restart."""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import procutil
from localmesos.model import Executor, Json

if TYPE_CHECKING:
    from localmesos.agent import Agent

log = logging.getLogger(__name__)

_live_groups: set[int] = set()
_detached: dict[int, subprocess.Popen[bytes]] = {}
"""Executors left running for the next cluster, by pid: held so that nothing reaps or kills them
here, until a cluster restarted inside this process adopts one and reaps it through its Popen."""
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[1])  # so the command executor imports


def command_executor_info(task_info: Json, *, framework_id: str) -> Json:
    """A task with a plain CommandInfo runs under localmesos' own command executor."""
    return {
        "executor_id": {"value": str(task_info["task_id"]["value"])},
        "framework_id": {"value": framework_id},
        "name": f"Command Executor (Task: {task_info['task_id']['value']})",
        "source": str(task_info["task_id"]["value"]),
        "command": {
            "value": sys.executable,
            "shell": False,
            "arguments": [sys.executable, "-m", "localmesos.command_executor"],
            "environment": {"variables": [{"name": "PYTHONPATH", "value": _PACKAGE_ROOT}]},
        },
    }


def executor_environment(
    executor: Executor, *, fw_info: Json, agent: Agent, grace: float
) -> dict[str, str]:
    """The variables a Mesos 1.11 agent sets for an executor (src/slave/slave.cpp)."""
    checkpoint = bool(fw_info.get("checkpoint", False))
    env = {
        "MESOS_AGENT_ENDPOINT": f"{agent.master.host}:{agent.port}",
        "MESOS_FRAMEWORK_ID": executor.framework_id,
        "MESOS_EXECUTOR_ID": executor.executor_id,
        "MESOS_DIRECTORY": executor.directory,
        "MESOS_SANDBOX": executor.directory,
        "MESOS_SLAVE_ID": agent.agent_id,
        "MESOS_AGENT_ID": agent.agent_id,
        "MESOS_SLAVE_PID": agent.pid,
        "MESOS_CHECKPOINT": "1" if checkpoint else "0",
        "MESOS_HTTP_COMMAND_EXECUTOR": "0",
        "MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD": f"{grace:g}secs",
        "LIBPROCESS_PORT": "0",
    }
    if agent.master.auth.authenticate_executors:
        executor.token = executor.token or secrets.token_urlsafe(32)
        env["MESOS_EXECUTOR_AUTHENTICATION_TOKEN"] = executor.token
    if checkpoint:
        env["MESOS_RECOVERY_TIMEOUT"] = f"{agent.master.timers.executor_recovery_timeout:g}secs"
        env["MESOS_SUBSCRIPTION_BACKOFF_MAX"] = "2secs"
    return env


def _fetch_uris(command: Json, sandbox: Path) -> None:
    """Local paths and file:// URIs only (the cluster has no network fetcher)."""
    for uri in command.get("uris") or []:
        value = str(uri.get("value", ""))
        source = Path(value.removeprefix("file://"))
        if not source.is_file():
            log.warning("Skipping URI that is not a local file", extra={"uri": value})
            continue
        target = sandbox / source.name
        shutil.copyfile(source, target)
        if uri.get("extract", True) and source.suffix in (".gz", ".tgz", ".zip", ".tar"):
            shutil.unpack_archive(target, sandbox)
        if uri.get("executable"):
            target.chmod(0o755)


def _prepare(executor: Executor, *, fw_info: Json, agent: Agent, grace: float) -> dict[str, str]:
    """Sandbox directory, fetched URIs, and the full environment."""
    sandbox = Path(executor.directory)
    sandbox.mkdir(parents=True, exist_ok=True)
    command: Json = executor.info["command"]
    _fetch_uris(command, sandbox)
    env = dict(os.environ)
    env.update(executor_environment(executor, fw_info=fw_info, agent=agent, grace=grace))
    for var in (command.get("environment") or {}).get("variables") or []:
        env[str(var["name"])] = str(var.get("value", ""))
    return env


def _argv(command: Json) -> tuple[list[str], str]:
    """Mesos semantics: shell (default) runs `value` with /bin/sh -c; otherwise `value` is the
    executable and `arguments` the whole argv."""
    if command.get("shell", True):
        return ["/bin/sh", "-c", str(command["value"])], "/bin/sh"
    return [str(a) for a in command.get("arguments") or [command["value"]]], str(command["value"])


def _open_logs(sandbox: Path) -> tuple[BinaryIO, BinaryIO]:
    return (sandbox / "stdout").open("ab"), (sandbox / "stderr").open("ab")


def spawn(
    executor: Executor, *, fw_info: Json, agent: Agent, grace: float
) -> subprocess.Popen[bytes]:
    """Start the executor in its own session (setsid), so a killpg never reaches us.

    A plain Popen rather than an asyncio subprocess: asyncio kills a child whose transport is
    dropped, and a cluster that exits keeping its executors (`detach`) must drop them all."""
    env = _prepare(executor, fw_info=fw_info, agent=agent, grace=grace)
    argv, executable = _argv(executor.info["command"])
    out, err = _open_logs(Path(executor.directory))
    try:
        proc = subprocess.Popen(
            argv,
            executable=executable,
            cwd=executor.directory,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,
        )
    finally:
        out.close()
        err.close()
    _live_groups.add(proc.pid)
    log.info(
        "Executor started",
        extra={"executor": executor.executor_id, "pid": proc.pid, "sandbox": executor.directory},
    )
    return proc


async def wait(proc: subprocess.Popen[bytes]) -> int:
    """The executor's raw wait status once it exited (awaited on a pidfd, then reaped)."""
    await procutil.wait_exit(proc.pid)
    return _raw_status(proc.wait())


def _raw_status(returncode: int) -> int:
    return returncode << 8 if returncode >= 0 else -returncode


async def wait_adopted(pid: int) -> int:
    """The raw wait status of an executor a previous cluster started, once it exited: known
    when it is our child (a cluster restarted inside one process), else 0 (not ours to reap).
    Our child that a cluster of this process detached is reaped through the Popen it held:
    reaped by pid, that Popen never learnt of the exit and warned at exit that it still ran."""
    await procutil.wait_exit(pid)
    proc = _detached.pop(pid, None)
    if proc is not None:
        return _raw_status(proc.wait())
    return _reap(pid)


def _reap(pid: int) -> int:
    """Collect an exited process's wait status if it is our child (no wait: it has exited)."""
    try:
        _, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return 0
    return status


def detach(pid: int | None, proc: subprocess.Popen[bytes] | None) -> None:
    """Leave the executor running when the cluster exits (the next one adopts it); `proc` when
    we started it, held so that it is never reaped or killed here."""
    if pid is not None:
        _live_groups.discard(pid)
    if proc is not None:
        _detached[proc.pid] = proc


def adopt(pid: int) -> None:
    """An executor the previous cluster left running is ours to kill again."""
    _live_groups.add(pid)


def kill_group(pid: int | None, sig: int = signal.SIGKILL) -> None:
    """Kill an executor's whole session (its pid is its process group id: setsid)."""
    if pid is None:
        return
    procutil.kill_group(pid, sig)
    if sig == signal.SIGKILL:
        _live_groups.discard(pid)


def live_groups() -> list[int]:
    return sorted(_live_groups)


def kill_all_groups() -> None:
    for pid in list(_live_groups):
        kill_group(pid)
