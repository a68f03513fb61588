"""A stand-in for the task controller on real etcd: Task status follows spec.state.

Each Task reaches its spec.state as soon as it is seen (DONE = the process exited) and gets a
pid at its first status write; unlike the real task controller it does not report
status.configuredProperties. It writes through the real store, so the environment controller
sees ordinary watch events.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from typing import Any

from controller.runtime.finalizers import remove_finalizer
from crds.errors import ConflictError, NotFoundError
from crds.kinds.task import TERMINAL_PHASES, Task, TaskStatus
from crds.labels import KILL_TASK_FINALIZER
from store.api import Store
from store.informer import CacheEvent, Informer


class FakeTaskController:
    def __init__(self, store: Store, tasks: Informer[Task]) -> None:
        self.store = store
        self.tasks = tasks
        self.queue: asyncio.Queue[str] = asyncio.Queue()
        self.pids = itertools.count(1000)
        self.broken: set[str] = set()
        self.held: set[str] = set()
        """Tasks whose process answers nothing until `release` (a slow one)."""
        self.writes = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.tasks.add_handler(self._on_event)
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        self.tasks.remove_handler(self._on_event)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def _on_event(self, event: CacheEvent[Any]) -> None:
        if event.new is not None:
            self.queue.put_nowait(event.name)

    def hold(self, name: str) -> None:
        """`name`'s status stays as it is until `release(name)`."""
        self.held.add(name)

    def release(self, name: str) -> None:
        """`name` follows its spec again (at once)."""
        self.held.discard(name)
        self.queue.put_nowait(name)

    async def fail(self, name: str, *, message: str) -> None:
        """The process of `name` dies (as a kill -9 would be reported)."""
        self.broken.add(name)
        task = self.tasks.get(name)
        assert task is not None
        status = task.status.model_copy(
            update={
                "phase": "Failed",
                "message": message,
                "reason": "REASON_COMMAND_EXECUTOR_FAILED",
            }
        )
        await self.store.update_status(task.model_copy(update={"status": status}))

    async def _run(self) -> None:
        while True:
            name = await self.queue.get()
            task = self.tasks.get(name)
            if task is not None and task.metadata.deletion_timestamp is not None:
                await self._finalize(task)
                continue
            if task is None or name in self.broken or name in self.held:
                continue
            if task.status.phase in TERMINAL_PHASES:
                continue
            status = self._follow(task)
            if status == task.status:
                continue
            try:
                await self.store.update_status(task.model_copy(update={"status": status}))
                self.writes += 1
            except ConflictError:
                self.queue.put_nowait(name)
            except NotFoundError:
                continue

    async def _finalize(self, task: Task) -> None:
        """As the real task controller does once the process is killed: the kill finalizer
        (put on by the environment controller at create) goes."""
        with contextlib.suppress(ConflictError, NotFoundError):
            await remove_finalizer(self.store, task, KILL_TASK_FINALIZER)

    def _follow(self, task: Task) -> TaskStatus:
        update: dict[str, object] = {"phase": "Running", "state": task.spec.state}
        if task.status.pid is None:
            update["pid"] = next(self.pids)
            update["hostname"] = "localhost"
        if task.spec.state == "DONE":
            update["phase"] = "Finished"
        return task.status.model_copy(update=update)
