"""`o2 logs TASK`: a task's stdout/stderr from its Mesos sandbox (via cli.mesos_files)."""

from __future__ import annotations

import asyncio
import sys
from typing import Annotated

import typer

from cli.mesos_files import (
    DEFAULT_MESOS,
    MesosFiles,
    SandboxFile,
    access_from_env,
    executor_output,
)
from cli.options import GlobalOptions
from cli.runtime import connect, run
from crds.errors import CompactedError, FieldError, NotFoundError, O2Error, ValidationError
from crds.kinds.task import TERMINAL_PHASES, Task
from crds.outputmode import keeps_sandbox_file, line_prefix
from mesosapi.auth import base_url
from store.api import Store

HELP = """Print a task's output (stdout, or stderr with --stderr) from its sandbox on the agent.

The file is read through the Mesos files endpoint (`/files/read`) of the master given by
--mesos (or O2_MESOS: HOST:PORT, http:// or https://, the first of a list; default
http://127.0.0.1:5050, the local cluster of `o2 up`; https is verified with $O2_MESOS_CA_FILE
or the system CAs, and $O2_MESOS_PRINCIPAL/$O2_MESOS_SECRET are sent when set). Mesos
has no watch for files, so -f asks for new bytes every half second; it stops once the task's
process has ended (its status, watched in etcd, shows a final phase) and all output is shown.

Where the output is follows the TaskClass `command.stdout`/`command.stderr` (AliECS's
`log_task_stdout`): by default and with `all` in the task's sandbox file; with `stdout` in its
executor's own output, from which the task's lines are picked (prefix `task-stdout <id>: `);
with `none` it was discarded, and `o2 logs` says so.

**Examples**

```
o2 logs physics-1-flp-tpc-readout
o2 logs physics-1-flp-tpc-readout --tail 20 -f
o2 logs physics-1-flp-tpc-readout --stderr
```
"""


class NoLogsError(O2Error):
    """The task has no sandbox output to show (not launched yet, or its file is gone)."""


def _launched(task: Task) -> tuple[str, str, str]:
    status = task.status
    if not (status.agent_id and status.executor_id and status.mesos_task_id):
        raise NoLogsError(
            f"task/{task.metadata.name} has not been launched yet (phase {status.phase}"
            f"{': ' + status.message if status.message else ''}): no logs"
        )
    return status.agent_id, status.executor_id, status.mesos_task_id


def _emit(data: bytes) -> None:
    sys.stdout.buffer.write(data)
    sys.stdout.flush()


async def _locate(files: MesosFiles, task: Task, *, name: str) -> SandboxFile:
    agent_id, executor_id, mesos_task_id = _launched(task)
    try:
        return await files.task_file(
            agent_id=agent_id, executor_id=executor_id, mesos_task_id=mesos_task_id, name=name
        )
    except NotFoundError as exc:
        raise NoLogsError(
            f"task/{task.metadata.name}: Mesos at {files.master_url} does not know the sandbox "
            f"of executor {executor_id} on agent {agent_id} (is --mesos the right master?)"
        ) from exc


async def _logs(
    opts: GlobalOptions, *, name: str, mesos: str, stderr: bool, tail: int | None, follow: bool
) -> None:
    try:
        master = base_url(mesos.split(",", maxsplit=1)[0])
    except ValueError as exc:
        raise ValidationError([FieldError(path="--mesos", message=str(exc))]) from exc
    stream = "stderr" if stderr else "stdout"
    async with connect(opts) as store, MesosFiles(master, access=access_from_env()) as files:
        task = await store.get(Task, name)
        mode = task.spec.command.stderr if stderr else task.spec.command.stdout
        if mode == "none":
            raise NoLogsError(
                f"task/{name}: its {stream} is discarded (command.{stream}: none): no logs"
            )
        file = await _locate(files, task, name=stream)
        if not keeps_sandbox_file(mode):
            lines = TaskLines(line_prefix(stream, _launched(task)[2]))
            await _executor_output(
                store,
                files,
                task,
                file=executor_output(file),
                lines=lines,
                tail=tail,
                follow=follow,
            )
            return
        try:
            size = await files.size(file)
        except NotFoundError as exc:
            raise NoLogsError(f"task/{name} has no {stream} file yet ({file.path})") from exc
        start = 0 if tail is None else await files.tail_start(file, lines=tail, size=size)
        _emit(await files.read_range(file, start=start, end=size))
        if follow:
            await _follow(store, files, file, task=task, offset=size)


class TaskLines:
    """Picks one task's lines out of its executor's output (`command.stdout: stdout`), where
    each of them is prefixed with `task-stdout <mesos task id>: ` (crds.outputmode)."""

    def __init__(self, prefix: str) -> None:
        self._prefix = prefix.encode()
        self._partial = b""

    def feed(self, data: bytes) -> bytes:
        """The task's complete lines in `data` (after what earlier calls left), unprefixed."""
        *lines, self._partial = (self._partial + data).split(b"\n")
        cut = len(self._prefix)
        return b"".join(line[cut:] + b"\n" for line in lines if line.startswith(self._prefix))


async def _executor_output(
    store: Store,
    files: MesosFiles,
    task: Task,
    *,
    file: SandboxFile,
    lines: TaskLines,
    tail: int | None,
    follow: bool,
) -> None:
    """The task's lines from its executor's own output file (whole file: it is shared)."""
    try:
        size = await files.size(file)
    except NotFoundError as exc:
        raise NoLogsError(f"task/{task.metadata.name}: no executor output ({file.path})") from exc
    mine = lines.feed(await files.read_range(file, start=0, end=size))
    if tail is not None:
        mine = b"".join(mine.splitlines(keepends=True)[-tail:] if tail else [])
    _emit(mine)
    if follow:
        ended = asyncio.ensure_future(until_ended(store, task))
        try:
            async for data in files.follow(file, offset=size, ended=ended):
                _emit(lines.feed(data))
        finally:
            ended.cancel()
            await asyncio.gather(ended, return_exceptions=True)


async def _follow(
    store: Store, files: MesosFiles, file: SandboxFile, *, task: Task, offset: int
) -> None:
    """Print new output until the task's process has ended and its output is all shown."""
    ended = asyncio.ensure_future(until_ended(store, task))
    try:
        async for data in files.follow(file, offset=offset, ended=ended):
            _emit(data)
    finally:
        ended.cancel()
        await asyncio.gather(ended, return_exceptions=True)


def _ended(task: Task | None, *, launch: str | None) -> bool:
    if task is None or task.status.mesos_task_id != launch:
        return True
    return task.status.phase in TERMINAL_PHASES


async def until_ended(store: Store, task: Task) -> None:
    """Return when this launch of `task` is over (terminal phase, relaunched or deleted),
    watched from the revision it was read at."""
    launch = task.status.mesos_task_id
    if _ended(task, launch=launch):
        return
    revision = task.metadata.resource_version or 0
    try:
        async for event in store.watch(Task, start_revision=revision + 1):
            if event.name != task.metadata.name or event.type == "UNREADABLE":
                continue
            current = None if event.type == "DELETED" else event.obj
            if _ended(current, launch=launch):
                return
    except CompactedError:
        await asyncio.Event().wait()  # cannot tell any more: follow until Ctrl-C


def logs_command(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="TASK", help="Task name.")],
    *,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new output (polls).")
    ] = False,
    stderr: Annotated[
        bool, typer.Option("--stderr", help="Show stderr instead of stdout.")
    ] = False,
    tail: Annotated[
        int | None, typer.Option("--tail", help="Only the last N lines.", min=0)
    ] = None,
    mesos: Annotated[
        str, typer.Option(envvar="O2_MESOS", help="Mesos master URL.")
    ] = DEFAULT_MESOS,
) -> None:
    run(
        ctx,
        lambda opts: _logs(opts, name=name, mesos=mesos, stderr=stderr, tail=tail, follow=follow),
    )


def register(app: typer.Typer) -> None:
    app.command("logs", help=HELP, short_help="Print a task's stdout or stderr.")(logs_command)
