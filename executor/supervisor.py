"""Process supervision: spawn a task process, watch it exit, kill its process group. Linux only.

Each task runs in its own session (so its whole process group can be signalled), with cwd in
its sandbox directory, stdout/stderr appended to `<sandbox>/stdout` and `<sandbox>/stderr` (or
elsewhere, and as another user: `command.stdout/stderr/user`, see executor.taskio), and
the parent-death signal set to SIGKILL through the `procutil.pdeath` exec wrapper, so the tasks
of a crashed executor die with it. The signal follows the *thread* that forked the child: spawn
from the event-loop thread (as `spawn` does), never from a short-lived worker thread.

Exit is watched with a pidfd on the event loop (no thread per child, no polling). When the
leader has exited, the rest of its process group is SIGKILLed before the leader is reaped (the
group id cannot be reused while the zombie leader exists), so no stray child runs on unseen.
A command reaches a shell only when asked (`shell=True` -> `SHELL -c`), and then only its
`value` is shell text: each argument is quoted, so one rendered from a variable stays one word.

A task's environment is explicit: the names in `INHERITED_ENV` taken from the executor's own
environment, then the TaskClass `command.env`, then what the executor sets (O2_TASK_ID, the
OCC port and token, the controller's O2_* variables). Nothing else of the executor's
environment reaches a task: not MESOS_EXECUTOR_AUTHENTICATION_TOKEN, not the agent's
credentials, not O2_ETCD_*. A task that needs more names it in its TaskClass `command.env`.
"""

from __future__ import annotations

import asyncio
import fnmatch
import logging
import os
import shlex
import shutil
import signal
import subprocess
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from executor.errors import SpawnError
from executor.taskio import (
    Credentials,
    Forwarder,
    OutputPlan,
    UserProblem,
    credentials_for,
    hand_over,
    plan_output,
    start_forwarding,
)
from mesosapi.auth import EXECUTOR_TOKEN_ENV
from procutil import kill_group, pdeath, signal_group, terminate

log = logging.getLogger(__name__)

SHELL = "/bin/bash" if os.access("/bin/bash", os.X_OK) else "/bin/sh"
"""`shell: true` runs here. AliECS runs /bin/sh, which is bash on ALICE's hosts, and the
ControlWorkflows task templates rely on it (`source`, bash arrays); where /bin/sh is another
shell (dash on Debian) o2 runs bash when the host has it."""

INHERITED_ENV = (
    *("PATH", "HOME", "USER", "LOGNAME", "SHELL", "TMPDIR", "TZ", "LANG", "LANGUAGE", "LC_*"),
    "PYTHONPATH",
    *("MESOS_SANDBOX", "MESOS_DIRECTORY", "MESOS_FRAMEWORK_ID", "MESOS_EXECUTOR_ID"),
    "MESOS_SLAVE_ID",
)
"""The executor's environment variables a task inherits (`fnmatch` patterns): the basics of a
login environment, and the Mesos variables that say where the task runs (a Mesos command task
sees them). Everything else must come from the TaskClass `command.env`."""


@dataclass(frozen=True)
class CommandSpec:
    """What to run: TaskClass `command` {value, arguments, env, shell}, already resolved."""

    value: str
    arguments: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    shell: bool = False
    shell_arguments: bool = False
    """With `shell`, the arguments are shell text joined unquoted (AliECS's executor)."""
    user: str = ""
    """Run as this user (executor.taskio); empty: the executor's own."""
    stdout: str = ""
    """crds.outputmode: '' (sandbox file), 'none', 'stdout' (executor's output) or 'all'."""
    stderr: str = ""
    """As `stdout`, for standard error."""


def build_argv(command: CommandSpec) -> list[str]:
    """argv without a shell; with `shell`, the value as the TaskClass author wrote it (pipes,
    `&&`, `$VAR` work there) followed by each argument shell-quoted: arguments are rendered from
    variables anyone with an Environment can set, and must never add commands of their own;
    unless the TaskClass says `shellArguments` (AliECS's join, for its task templates)."""
    if command.shell:
        quote = (lambda a: a) if command.shell_arguments else shlex.quote
        return [SHELL, "-c", " ".join([command.value, *map(quote, command.arguments)])]
    return [command.value, *command.arguments]


@dataclass(frozen=True)
class ExitStatus:
    """How a process ended: an exit code, or the signal that killed it."""

    exit_code: int | None = None
    signal: int | None = None

    @classmethod
    def from_returncode(cls, returncode: int) -> ExitStatus:
        if returncode < 0:
            return cls(signal=-returncode)
        return cls(exit_code=returncode)

    @property
    def success(self) -> bool:
        return self.exit_code == 0

    def describe(self) -> str:
        if self.signal is not None:
            return f"killed by signal {self.signal} ({signal.Signals(self.signal).name})"
        return f"exited with code {self.exit_code}"


def inherited_env(environ: Mapping[str, str]) -> dict[str, str]:
    """The part of `environ` a task inherits: the names matching `INHERITED_ENV`."""
    return {
        name: value
        for name, value in environ.items()
        if any(fnmatch.fnmatchcase(name, pattern) for pattern in INHERITED_ENV)
    }


def _check_executable(argv0: str, *, env: Mapping[str, str], cwd: Path) -> str | None:
    """Why argv0 cannot run, or None; checked up front so the failure names the command."""
    if "/" in argv0:
        path = Path(argv0) if Path(argv0).is_absolute() else cwd / argv0
        if not os.access(path, os.X_OK) or path.is_dir():
            return f"{argv0}: not found or not executable"
        return None
    if shutil.which(argv0, path=env.get("PATH", os.defpath)) is None:
        return f"{argv0}: command not found in PATH"
    return None


class Process:
    """A running (or finished) task process; `wait()` resolves when it has exited."""

    def __init__(
        self,
        task_id: str,
        popen: subprocess.Popen[bytes],
        *,
        sandbox: Path,
        forwarders: Sequence[Forwarder] = (),
    ) -> None:
        self.task_id = task_id
        self.pid = popen.pid
        self.sandbox = sandbox
        self.forwarders = tuple(forwarders)
        """Copiers of output sent to the executor's own (`stdout`/`all` modes)."""
        self._popen = popen
        self._loop = asyncio.get_running_loop()
        self._exited: asyncio.Future[ExitStatus] = self._loop.create_future()
        self._pidfd = os.pidfd_open(self.pid)
        self._loop.add_reader(self._pidfd, self._on_exit)

    @property
    def stdout_path(self) -> Path:
        return self.sandbox / "stdout"

    @property
    def stderr_path(self) -> Path:
        return self.sandbox / "stderr"

    @property
    def status(self) -> ExitStatus | None:
        """The exit status once the process has exited, else None."""
        return self._exited.result() if self._exited.done() else None

    async def wait(self) -> ExitStatus:
        """The exit status, once the process has exited (cancelling the wait is safe)."""
        return await asyncio.shield(self._exited)

    def signal_group(self, sig: int) -> bool:
        """Send `sig` to the process group; False when it is already gone."""
        if self._exited.done():
            return False
        return signal_group(self.pid, sig)

    async def terminate(self, *, grace: float) -> ExitStatus:
        """SIGTERM to the group, `grace` seconds, then SIGKILL to the group."""

        def send(sig: int) -> None:
            if not self.signal_group(sig):
                return
            if sig == signal.SIGTERM:
                log.info("Sent SIGTERM", extra={"task": self.task_id, "pid": self.pid})
            else:
                log.warning(
                    "Sent SIGKILL after grace", extra={"task": self.task_id, "grace": grace}
                )

        await terminate(send, self.wait, grace=grace)
        return await self.wait()

    def _on_exit(self) -> None:
        self._loop.remove_reader(self._pidfd)
        os.close(self._pidfd)
        kill_group(self.pid)  # stragglers; the zombie leader holds the pgid
        returncode = self._popen.wait()
        status = ExitStatus.from_returncode(returncode)
        log.info("Process exited", extra={"task": self.task_id, "pid": self.pid, "how": status})
        self._exited.set_result(status)


def spawn(
    task_id: str,
    command: CommandSpec,
    *,
    sandbox: Path,
    extra_env: Mapping[str, str] | None = None,
    inherit_env: bool = True,
) -> Process:
    """Start `command` for `task_id` in `sandbox` (created if missing). Raises SpawnError.

    The environment: `INHERITED_ENV` of ours (with `inherit_env`), then `command.env`, then
    `extra_env`.
    """
    sandbox.mkdir(parents=True, exist_ok=True)
    env = inherited_env(os.environ) if inherit_env else {}
    env.pop(EXECUTOR_TOKEN_ENV, None)  # also if an allow-list entry ever matched it
    env.update(command.env)
    env.update(extra_env or {})
    argv = build_argv(command)
    problem = _check_executable(argv[0], env=env, cwd=sandbox)
    if problem:
        raise SpawnError(task_id, problem)
    try:
        creds = credentials_for(command.user)
        hand_over(sandbox, creds)
    except (UserProblem, OSError) as exc:
        raise SpawnError(task_id, str(exc)) from exc
    popen, plan = _start(task_id, pdeath.wrap(argv), command, env=env, sandbox=sandbox, creds=creds)
    log.info("Spawned task process", extra={"task": task_id, "pid": popen.pid, "argv": argv})
    try:
        forwarders = start_forwarding(popen, plan, task_id=task_id)
        return Process(task_id, popen, sandbox=sandbox, forwarders=forwarders)
    except OSError as exc:  # no pidfd (Linux < 5.3): do not leave an unwatched process behind
        signal_group(popen.pid, signal.SIGKILL)
        popen.wait()
        raise SpawnError(task_id, f"cannot watch the process: {exc}") from exc


def _start(
    task_id: str,
    wrapper: list[str],
    command: CommandSpec,
    *,
    env: Mapping[str, str],
    sandbox: Path,
    creds: Credentials | None,
) -> tuple[subprocess.Popen[bytes], OutputPlan]:
    modes = {"stdout": command.stdout, "stderr": command.stderr}
    with ExitStack() as files:
        plan = plan_output(modes, sandbox=sandbox, stack=files)
        try:
            popen = subprocess.Popen(
                wrapper,
                cwd=sandbox,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=plan.stdout,
                stderr=plan.stderr,
                start_new_session=True,
                user=creds.uid if creds else None,
                group=creds.gid if creds else None,
                extra_groups=list(creds.groups) if creds else None,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            for copy in plan.forward.values():
                if copy is not None:
                    copy.close()
            raise SpawnError(task_id, str(exc)) from exc
    return popen, plan
