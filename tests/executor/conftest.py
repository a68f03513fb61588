"""Fixtures for executor tests: real task subprocesses, a TaskRunner, and status recording."""

from __future__ import annotations

import asyncio
import os
import select
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from crds.kinds.common import ControlMode
from executor.runtime import LaunchSpec, StatusUpdate, TaskRunner, Timeouts
from executor.supervisor import CommandSpec

REPO = str(Path(__file__).resolve().parents[2])
PROGRAMS = Path(__file__).resolve().parent / "programs"
PY_ENV = {"PYTHONPATH": REPO}


def python_command(*arguments: str, env: dict[str, str] | None = None) -> CommandSpec:
    """`python ARGS` with the repository importable (the task's cwd is its sandbox)."""
    return CommandSpec(value=sys.executable, arguments=arguments, env={**PY_ENV, **(env or {})})


def sample_task(*arguments: str, rate: str = "1000") -> CommandSpec:
    return python_command("-m", "executor.sample_task", *arguments, env={"RATE": rate})


class StatusLog:
    """Collects StatusUpdates and lets a test await a given state for a task."""

    def __init__(self) -> None:
        self.updates: list[StatusUpdate] = []
        self._changed = asyncio.Condition()

    def __call__(self, update: StatusUpdate) -> None:
        self.updates.append(update)
        asyncio.get_running_loop().create_task(self._notify())

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    def states(self, task_id: str) -> list[str]:
        return [u.state for u in self.updates if u.task_id == task_id]

    async def wait_for(self, task_id: str, state: str, *, within: float = 20.0) -> StatusUpdate:
        async with asyncio.timeout(within), self._changed:
            while True:
                for update in self.updates:
                    if update.task_id == task_id and update.state == state:
                        return update
                await self._changed.wait()


@pytest.fixture
def statuses() -> StatusLog:
    return StatusLog()


@pytest.fixture
async def runner(statuses: StatusLog) -> AsyncIterator[TaskRunner]:
    task_runner = TaskRunner(
        on_status=statuses, timeouts=Timeouts(startup=20.0, kill_step=2.0, kill_grace=1.0)
    )
    yield task_runner
    await task_runner.close()  # the kill ladder for every task still running


def launch_spec(
    tmp_path: Path, task_id: str, command: CommandSpec, *, control: ControlMode = "direct"
) -> LaunchSpec:
    return LaunchSpec(task_id=task_id, command=command, sandbox=tmp_path / task_id, control=control)


def make_fifo(path: Path) -> Path:
    """A named pipe a child program writes 'ready' into once it is set up."""
    os.mkfifo(path)
    return path


def wait_fifo(path: Path, *, within: float = 20.0) -> str:
    """Block until a writer puts something into the FIFO (an event, not a poll of a file).

    Linux reports no POLLHUP on a FIFO before its first writer, so select waits for the data.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        readable, _, _ = select.select([fd], [], [], within)
        assert readable, f"nothing written to {path} within {within}s"
        return os.read(fd, 1024).decode()
    finally:
        os.close(fd)
