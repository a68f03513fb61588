"""Mesos status updates and failures into Task status: each update is applied to the task it
is about (acknowledged once written), strays are killed, a lost executor's tasks reconciled.
Holds no state of its own; decisions in controller.tasks.status (pure)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from functools import partial

from controller.tasks import status as st
from controller.tasks.backlog import Backlog
from controller.tasks.base import task_name_of
from controller.tasks.control import ControlLedger
from controller.tasks.roster import KnownTask
from controller.tasks.shared import Shared
from crds.errors import MesosCallError, MesosUnavailableError
from crds.kinds.task import Task
from mesosapi.models import TaskStatus as MesosStatus
from mesosapi.scheduler import Failure

log = logging.getLogger(__name__)


class MesosUpdates:
    """What Mesos says about our tasks, turned into status writes."""

    def __init__(self, shared: Shared, *, backlog: Backlog, control: ControlLedger) -> None:
        self._shared = shared
        self._backlog = backlog
        self._control = control

    def on_update(self, update: MesosStatus) -> None:
        name = task_name_of(update.task_id)
        task = self._shared.roster.view(name)
        ack = self._acker(update)
        if task is None or task.status.mesos_task_id != update.task_id:
            self._on_stray(update, owned=task is not None)
            ack()
            return
        if _never_launched(task, update):
            self._backlog.requeue(name)
            self._shared.writer.patch(name, partial(st.pending_if_mine, update=update), then=ack)
        elif self._says_nothing_new(task, update):
            self._shared.writer.after_writes(name, ack)
            return
        else:
            self._shared.writer.patch(name, partial(st.update_if_mine, update=update), then=ack)
        self._shared.wake(name)

    def _says_nothing_new(self, task: Task, update: MesosStatus) -> bool:
        """Whether `update` would leave the status as it is, or as it will be once the changes
        queued or in flight for it are written (`task` is the view): the answer of each
        periodic explicit reconciliation about a task that runs on (TASK_RUNNING, the same
        pid), or an agent's resend of an update already written. It asks for no status write
        and no look at the task (at 50,000 tasks a reconciliation sends 50,000 of them every
        `reconcile_period`, and during START most of them find a result being written); it is
        acknowledged once those changes are written (at once when none is: what it says is in
        etcd already). Only at the status's observed generation, or at a new one whose
        transition is due or in flight, or that the write of those changes stamps
        (Roster.answered)."""
        status = task.status
        return (
            update.state == "TASK_RUNNING"
            and status.phase == "Running"
            and st.running_on(status, update)
            and self._shared.roster.answered(task)
        )

    def on_failure(self, event: Failure) -> None:
        """An executor exited or an agent was lost: Mesos also sends its tasks' terminal
        updates, and an explicit reconcile of every live task there makes sure of it."""
        log.warning(
            "Mesos failure",
            extra={"agent": event.agent_id, "executor": event.executor_id, "status": event.status},
        )
        if event.agent_id is None:
            return
        self._control.executor_gone(event.agent_id)
        there = self._shared.roster.known(agent=event.agent_id)
        if there:
            self._shared.link.spawn(self._reconcile_quietly(there))

    def _acker(self, update: MesosStatus) -> Callable[[], None]:
        def ack() -> None:
            client = self._shared.link.client
            if client is not None:
                client.acknowledge_soon(update)

        return ack

    def _on_stray(self, update: MesosStatus, *, owned: bool) -> None:
        if update.terminal:
            return
        log.warning(
            "Killing stray Mesos task",
            extra={"mesos_task": update.task_id, "agent": update.agent_id, "task_exists": owned},
        )
        self._control.kill_stray(update.task_id, update.agent_id)

    async def _reconcile_quietly(self, tasks: Sequence[KnownTask]) -> None:
        try:
            await self._shared.link.require().reconcile(tasks)
        except (MesosCallError, MesosUnavailableError) as exc:
            log.warning("Reconcile failed", extra={"error": str(exc), "tasks": len(tasks)})


def _never_launched(task: Task, update: MesosStatus) -> bool:
    """A Staging task unknown to Mesos was written but never accepted (crash in between)."""
    return (
        task.status.phase == "Staging"
        and update.reason == "REASON_RECONCILIATION"
        and update.state in ("TASK_LOST", "TASK_UNKNOWN", "TASK_DROPPED", "TASK_GONE")
    )
