"""Task hooks: a task role with a `trigger` runs as a Task at its moment, to completion. I/O.

AliECS launches a hook task through Mesos like any task (on the agent its constraints select,
as its TaskClass's user) and triggers its command at the moment; the transition awaits its
BASIC_TASK_TERMINATED, kills it at the timeout, and a critical failure fails the transition.
o2 does the same with a Task resource: created at the trigger step (control `process`, so the
command runs once from launch), awaited until its phase is terminal, deleted (killed) at the
timeout and once it has ended. Success is phase Finished with exit code 0. The Task's name is
derived from the hook key (environment, transition start, role path), so the await step of a
restarted controller finds the Task its predecessor created instead of running a second one.
It carries `o2.dev/hook-of=<environment>` (not the environment label: it is no environment
task) and an owner reference to the Environment, so it goes with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Callable

from controller.environments.expand import Hook
from controller.environments.hooks import HookKey, HookResult
from crds.errors import AlreadyExistsError, NotFoundError, O2Error
from crds.kinds.task import TERMINAL_PHASES, Task
from crds.labels import HOOK_LABEL, ROLE_LABEL
from crds.meta import ObjectMeta, OwnerReference
from crds.names import join_label
from store.api import Store

log = logging.getLogger(__name__)

POLL = 0.1
"""Seconds between looks at the hook's Task in the controller's cache (an in-memory read)."""


def hook_task_name(key: HookKey, hook: Hook) -> str:
    """`<environment>-<role path>-<8 hex of the key>`: one Task per firing of the hook."""
    assert hook.task is not None
    digest = hashlib.sha256("/".join(key).encode()).hexdigest()[:8]
    return join_label(hook.task.environment or "", hook.path.replace(".", "-"), digest)


def hook_task(key: HookKey, hook: Hook) -> Task:
    """The Task resource of one firing of a task hook."""
    assert hook.task is not None
    env = hook.task.environment or ""
    owner = OwnerReference(kind="Environment", name=env, uid=key[0])
    meta = ObjectMeta(
        name=hook_task_name(key, hook),
        labels={HOOK_LABEL: env, ROLE_LABEL: hook.path},
        owner_references=(owner,),
    )
    return Task(metadata=meta, spec=hook.task)


def verdict(hook: Hook, task: Task) -> HookResult:
    """How an ended hook Task went: exit 0 (Finished) is success, anything else a failure."""
    status = task.status
    where = f" on {status.hostname}" if status.hostname else ""
    ok = status.phase == "Finished" and status.exit_code == 0
    if ok:
        return HookResult(hook, True, 0, "", f"task {task.name}{where} succeeded")
    how = status.message or f"phase {status.phase}"
    message = f"task {task.name}{where} failed: {how}"
    return HookResult(hook, False, status.exit_code, "", message)


class TaskHooks:
    """Runs task hooks for the HookRunner (one asyncio task per firing)."""

    def __init__(self, *, store: Callable[[], Store], lookup: Callable[[str], Task | None]) -> None:
        """`store`: the current (fenced) store; `lookup`: the controller's Task cache."""
        self._store = store
        self._lookup = lookup

    async def run(self, key: HookKey, hook: Hook) -> HookResult:
        task = hook_task(key, hook)
        name = task.name
        try:
            await self._store().create(task)
        except AlreadyExistsError:
            log.info("Task hook already created", extra={"task": name, "hook": hook.path})
        except O2Error as exc:
            return HookResult(hook, False, None, "", f"cannot create task {name}: {exc}")
        try:
            async with asyncio.timeout(hook.timeout):
                ended = await self._ended(name)
        except TimeoutError:
            await self._delete(name)
            return HookResult(
                hook, False, None, "", f"task {name} timed out after {hook.timeout:g}s"
            )
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await asyncio.shield(self._delete(name))
            raise
        await self._delete(name)
        result = verdict(hook, ended)
        log.info("Task hook ended", extra={"hook": hook.path, "task": name, "ok": result.ok})
        return result

    async def _ended(self, name: str) -> Task:
        while True:
            task = self._lookup(name)
            if task is not None and task.status.phase in TERMINAL_PHASES:
                return task
            await asyncio.sleep(POLL)

    async def _delete(self, name: str) -> None:
        try:
            await self._store().delete(Task, name)
        except NotFoundError:
            pass
        except O2Error as exc:  # the owner reference still takes it away with the environment
            log.warning("Cannot delete task hook", extra={"task": name, "error": str(exc)})
