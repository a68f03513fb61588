"""Who a task process runs as (`command.user`) and where its output goes (`command.stdout`/
`stderr`), as AliECS's executor applies them. Linux only.

User: AliECS sets the process credentials (uid, gid, supplementary groups) from `user.Lookup`.
o2 does the same when it may: the executor runs as root, or the user is the executor's own
(then nothing changes). Otherwise the launch fails with the reason, e.g. "cannot run as user
'flp': the executor runs as 'alice' and is not root", and a user unknown on the host fails too.
As AliECS, the environment is left as built (HOME/USER are not rewritten); the task's sandbox
directory is handed to the user so the process can write in its cwd.

Output (crds.outputmode): empty keeps o2's default (append to `<sandbox>/stdout|stderr`),
`none` discards, `stdout` copies each line into the executor's own stdout (task stderr: the
executor's stderr) prefixed `task-stdout <task id>: ` (`task-stderr`), `all` does both. Lines are
copied from a pipe by the event loop (a reader per stream, no thread), so a task writing a lot
is slowed down to what the executor's output takes, as with AliECS's logger.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import subprocess
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from crds.outputmode import forwards_to_executor, keeps_sandbox_file, line_prefix

MAX_LINE = 64 * 1024
"""A longer run of bytes without a newline is forwarded as a line of its own."""
EXECUTOR_FD = {"stdout": 1, "stderr": 2}


class UserProblem(Exception):
    """The process cannot run as the requested user; the message says why."""


@dataclass(frozen=True)
class Credentials:
    """The ids to run a process with (Popen's user/group/extra_groups)."""

    name: str
    uid: int
    gid: int
    groups: tuple[int, ...]


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def credentials_for(user: str) -> Credentials | None:
    """The credentials to switch to for `user`, None when no switch is needed (empty, or the
    executor's own user). Raises UserProblem when the user is unknown or not reachable."""
    if not user:
        return None
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        raise UserProblem(f"cannot run as user {user!r}: no such user on this host") from None
    own = os.geteuid()
    if entry.pw_uid == own:
        return None
    if own != 0:
        raise UserProblem(
            f"cannot run as user {user!r}: the executor runs as {_user_name(own)!r} and is not root"
        )
    groups = tuple(os.getgrouplist(user, entry.pw_gid))
    return Credentials(name=user, uid=entry.pw_uid, gid=entry.pw_gid, groups=groups)


def hand_over(sandbox: Path, creds: Credentials | None) -> None:
    """Give the sandbox directory to the task's user, so its cwd is writable for it."""
    if creds is not None:
        os.chown(sandbox, creds.uid, creds.gid)


class Forwarder:
    """Copies one output pipe of a task, line by line, into an executor stream (and a file)."""

    def __init__(self, fd: int, *, prefix: bytes, target: int, copy: IO[bytes] | None) -> None:
        self._fd = fd
        self._prefix = prefix
        self._target = target
        self._copy = copy
        self._partial = b""
        self.done = asyncio.Event()
        os.set_blocking(fd, False)
        asyncio.get_running_loop().add_reader(fd, self._on_readable)

    def _on_readable(self) -> None:
        try:
            data = os.read(self._fd, 65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._close()
            return
        if self._copy is not None:
            self._copy.write(data)
            self._copy.flush()
        self._partial += data
        *lines, self._partial = self._partial.split(b"\n")
        if len(self._partial) > MAX_LINE:
            lines.append(self._partial)
            self._partial = b""
        for line in lines:
            self._write(line)

    def _write(self, line: bytes) -> None:
        with contextlib.suppress(OSError):  # the executor's own output is gone: drop the line
            os.write(self._target, self._prefix + line + b"\n")

    def _close(self) -> None:
        asyncio.get_running_loop().remove_reader(self._fd)
        if self._partial:
            self._write(self._partial)
            self._partial = b""
        os.close(self._fd)
        if self._copy is not None:
            self._copy.close()
        self.done.set()


@dataclass
class OutputPlan:
    """The stdout/stderr arguments of Popen for one launch, and what to do once it started."""

    stdout: int | IO[bytes]
    stderr: int | IO[bytes]
    forward: dict[str, IO[bytes] | None]
    """Streams to forward after the start: name -> sandbox file to also append to."""


def plan_output(modes: dict[str, str], *, sandbox: Path, stack: ExitStack) -> OutputPlan:
    """Open what `modes` ({'stdout': mode, 'stderr': mode}) asks for; `stack` closes the files
    the parent need not keep (a forwarded `all` stream keeps its file until the pipe ends)."""
    targets: dict[str, int | IO[bytes]] = {}
    forward: dict[str, IO[bytes] | None] = {}
    for stream, mode in modes.items():
        file: IO[bytes] | None = None
        if keeps_sandbox_file(mode):
            file = (sandbox / stream).open("ab")
        if forwards_to_executor(mode):
            targets[stream] = subprocess.PIPE
            forward[stream] = file
        elif file is not None:
            targets[stream] = stack.enter_context(file)
        else:
            targets[stream] = subprocess.DEVNULL
    return OutputPlan(stdout=targets["stdout"], stderr=targets["stderr"], forward=forward)


def start_forwarding(
    popen: subprocess.Popen[bytes], plan: OutputPlan, *, task_id: str
) -> list[Forwarder]:
    """Start copying the piped streams of a started process."""
    pipes = {"stdout": popen.stdout, "stderr": popen.stderr}
    forwarders = []
    for stream, copy in plan.forward.items():
        pipe = pipes[stream]
        assert pipe is not None
        fd = os.dup(pipe.fileno())
        pipe.close()
        prefix = line_prefix(stream, task_id).encode()
        forwarders.append(Forwarder(fd, prefix=prefix, target=EXECUTOR_FD[stream], copy=copy))
    return forwarders
