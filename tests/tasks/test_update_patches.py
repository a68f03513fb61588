"""A Mesos status update is folded into the launch it is about, also when the status moved on
between the check and the write: the writer applies queued changes to the newest copy (again
after a conflict), and a new leader's cache may lag the old leader's last writes. Folding a
TASK_RUNNING of an old launch into a status another writer sent back to Pending wrote phase
Running with no Mesos task id: a task nothing controls or relaunches, its environment stuck
in CONFIGURE (the chaos soak's stall)."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import cast

from controller.tasks.backlog import Backlog
from controller.tasks.shared import Shared
from controller.tasks.updates import MesosUpdates
from crds.kinds.task import Task, TaskPhase, TaskStatus
from mesosapi.models import TaskId
from mesosapi.models import TaskStatus as MesosStatus
from tests.tasks.harness import sample_task

StatusFn = Callable[[TaskStatus], TaskStatus]


class Writer:
    """Keeps the changes queued instead of writing them."""

    def __init__(self) -> None:
        self.fns: list[StatusFn] = []

    def patch(self, name: str, fn: StatusFn, *, then: Callable[[], None] | None = None) -> None:
        self.fns.append(fn)


def queued_change(view: Task, update: MesosStatus) -> StatusFn:
    """The change MesosUpdates queues for `update` while the task looks like `view`."""
    writer = Writer()
    shared = SimpleNamespace(
        roster=SimpleNamespace(view=lambda name: view),
        writer=writer,
        wake=lambda *names, every=False: None,
        link=SimpleNamespace(client=None),
    )
    backlog = SimpleNamespace(requeue=lambda name: None)
    updates = MesosUpdates(cast(Shared, shared), backlog=cast(Backlog, backlog), control=None)  # type: ignore[arg-type]
    updates.on_update(update)
    assert len(writer.fns) == 1
    return writer.fns[0]


def launched(phase: TaskPhase) -> Task:
    task = sample_task("t")
    status = TaskStatus(phase=phase, mesos_task_id="t.old", agent_id="a1")
    return task.model_copy(update={"status": status})


def test_an_update_of_an_old_launch_leaves_a_status_sent_back_to_pending_alone() -> None:
    change = queued_change(
        launched("Staging"), MesosStatus(task_id=TaskId("t.old"), state="TASK_RUNNING")
    )
    moved_on = TaskStatus(phase="Pending")  # another writer: back to pending, no launch
    assert change(moved_on) == moved_on


def test_an_update_of_an_old_launch_leaves_a_newer_launch_alone() -> None:
    change = queued_change(
        launched("Running"), MesosStatus(task_id=TaskId("t.old"), state="TASK_FAILED")
    )
    newer = TaskStatus(phase="Running", mesos_task_id="t.new", agent_id="a1")
    assert change(newer) == newer


def test_the_update_still_applies_to_its_own_launch() -> None:
    view = launched("Staging")
    change = queued_change(view, MesosStatus(task_id=TaskId("t.old"), state="TASK_RUNNING"))
    assert change(view.status).phase == "Running"


def test_a_never_launched_reset_leaves_a_newer_launch_alone() -> None:
    lost = MesosStatus(task_id=TaskId("t.old"), state="TASK_LOST", reason="REASON_RECONCILIATION")
    change = queued_change(launched("Staging"), lost)
    newer = TaskStatus(phase="Staging", mesos_task_id="t.new", agent_id="a1")
    assert change(newer) == newer
