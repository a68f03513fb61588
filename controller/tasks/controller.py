"""TaskReconciler: the task controller's entry point in the manager (finalizer, deletion, and
the framework driver's lifetime). I/O: the store (finalizers) and the driver.

The driver (controller.tasks.framework) runs for exactly one leadership term: the runtime's
term hooks start it (`on_start`: subscribe as the persisted framework id, adopt) and stop it
(`on_stop`: at once when the lease was lost, after flushing status writes on shutdown).
Reconciles of Task names ensure the kill finalizer (`o2.dev/kill-task`), KILL deleted tasks'
processes before the finalizer is removed, and wake the driver, which batches launches and
transitions.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterable

from controller.mesos import SchedulerClient
from controller.runtime.finalizers import add_finalizer, has_finalizer, remove_finalizer
from controller.runtime.reconciler import Context, Reconciler, Result, Watch
from controller.settings import TaskSettings
from controller.tasks.base import FINALIZER
from controller.tasks.framework import FrameworkConfig, TaskFramework
from controller.tasks.launch import LaunchConfig
from crds.errors import NotFoundError, TemporaryError
from crds.kinds.task import TERMINAL_PHASES, Task
from mesosapi.models import FrameworkId
from mesosapi.scheduler import framework_info
from store.informer import CacheEvent

log = logging.getLogger(__name__)

KILL_RECHECK = 2.0


def framework_config(settings: TaskSettings) -> FrameworkConfig | None:
    """The framework's configuration; None when no Mesos master is set (`--mesos`)."""
    if not settings.masters:
        return None
    return FrameworkConfig(
        masters=settings.masters,
        launch=LaunchConfig(executor_command=settings.executor_command),
        name=settings.framework_name,
        reconcile_period=settings.reconcile_period,
    )


def needs_reconcile(event: CacheEvent[Task]) -> Iterable[str]:
    """The key, when the finalizer or the deletion may need work: a Task appears or goes,
    is being deleted, lacks the finalizer, or had its finalizers changed."""
    old, new = event.old, event.new
    if old is None or new is None or new.metadata.deletion_timestamp is not None:
        return (event.name,)
    if not has_finalizer(new, FINALIZER) or old.metadata.finalizers != new.metadata.finalizers:
        return (event.name,)
    return ()


class TaskReconciler(Reconciler):
    name = "tasks"
    kind = Task
    workers = 8
    resync_period = 300.0

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.config = framework_config(ctx.settings.tasks)
        self.framework = (
            TaskFramework(ctx, self.config, client_factory=self._client) if self.config else None
        )

    def _client(self, framework_id: FrameworkId | None) -> SchedulerClient:
        assert self.config is not None
        user = os.environ.get("USER", "root") or "root"
        access = self.ctx.settings.tasks.access
        info = framework_info(self.config.name, user=user, principal=access.principal)
        return SchedulerClient(
            list(self.config.masters), info, framework_id=framework_id, access=access
        )

    def all_watches(self) -> list[Watch]:
        """Tasks by name, but not for the changes the driver handles alone: its own status
        writes and new desired states (it watches the cache itself, see
        TaskFramework's task handler) need no finalizer work, and 1,000 of them through the
        work queue cost a transition over 1,000 tasks tens of milliseconds."""
        return [Watch(Task, needs_reconcile)]

    async def on_start(self) -> None:
        if self.framework is None:
            log.warning("No Mesos master configured (--mesos): the task controller idles")
            return
        self.framework.start()

    async def on_stop(self, *, graceful: bool) -> None:
        if self.framework is not None:
            await self.framework.stop(graceful=graceful)

    async def reconcile(self, key: str) -> Result:
        return await self._reconcile_task(key)

    async def _reconcile_task(self, name: str) -> Result:
        task = self.ctx.cache(Task).get(name)
        if task is None:
            return Result()
        if task.metadata.deletion_timestamp is not None:
            return await self._finalize(task)
        if not has_finalizer(task, FINALIZER):
            # the driver launches the task once the cache shows the finalizer
            await add_finalizer(self.ctx.store, task, FINALIZER)
        elif self.framework is not None:
            self.framework.wake(name)
        return Result()

    async def _finalize(self, task: Task) -> Result:
        """Kill first, then let the resource go."""
        if not has_finalizer(task, FINALIZER):
            return Result()
        current = self.framework.view(task.name) if self.framework else task
        status = (current or task).status
        running = status.mesos_task_id and status.phase not in TERMINAL_PHASES
        if running:
            if self.framework is None or self.framework.client is None:
                raise TemporaryError(
                    f"task/{task.name}: waiting for Mesos to kill it", delay=KILL_RECHECK
                )
            await self.framework.kill(current or task)
            return Result(requeue_after=KILL_RECHECK)
        with contextlib.suppress(NotFoundError):
            await remove_finalizer(self.ctx.store, task, FINALIZER)
        if self.framework is not None:
            self.framework.forget(task.name)
        log.info("Task removed", extra={"task": task.name})
        return Result()
