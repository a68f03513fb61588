"""A reconcile that only waits for tasks compares no live spec field of a task whose stored
spec and desired spec are the objects it compared last time (a status write keeps the stored
spec object): each pass over a large environment costs its changed tasks, not all of them."""

from __future__ import annotations

from typing import Any

import pytest

from controller.environments.expand import expand
from controller.environments.expansion import Expansion
from controller.environments.plan import Plan, plan
from controller.environments.taskset import TaskSet
from crds.kinds.task import Task
from crds.labels import ENV_LABEL
from tests.environments.helpers import Sim, samples


def _names_passed(monkeypatch: pytest.MonkeyPatch, method: str) -> list[str]:
    """The names of the tasks (or desired tasks) `TaskSet.<method>` is called with from now on."""
    names: list[str] = []
    real = getattr(TaskSet, method)

    def counting(self: TaskSet, first: Any, *args: Any, **kwargs: Any) -> Any:
        names.append(first.name)
        return real(self, first, *args, **kwargs)

    monkeypatch.setattr(TaskSet, method, counting)
    return names


def _settled() -> tuple[Sim, Expansion]:
    env, workflow, classes = samples()
    sim = Sim(env, workflow, classes)
    settled = sim.settle()
    assert settled.status.state == "RUNNING"
    run = settled.status.run_number
    return sim, expand(settled, workflow, classes, run_number=run)


def _pass(sim: Sim, expansion: Expansion, tasks: list[Task]) -> Plan:
    return plan(sim.env, sim.workflow, sim.classes, tasks, now=sim.now, expansion=expansion)


def _owned(sim: Sim) -> list[Task]:
    return [t for t in sim.tasks.values() if t.metadata.labels.get(ENV_LABEL) == sim.env.name]


def _status_written(task: Task, message: str, **fields: str) -> Task:
    """The task after a status-only write: a new object, the same spec object."""
    status = task.status.model_copy(update={"message": message, **fields})
    return task.model_copy(update={"status": status})


def test_a_pass_over_status_only_changes_reuses_every_tasks_comparison() -> None:
    sim, expansion = _settled()
    tasks = _owned(sim)
    assert not _pass(sim, expansion, tasks).update
    compared = dict(expansion.live_diffs)
    assert set(compared) == {t.name for t in tasks}
    again = [_status_written(t, "seen") for t in tasks]
    assert not _pass(sim, expansion, again).update
    assert all(expansion.live_diffs[n] is entry for n, entry in compared.items())


def test_only_a_task_whose_spec_object_changed_is_compared_again_and_updated() -> None:
    sim, expansion = _settled()
    tasks = _owned(sim)
    _pass(sim, expansion, tasks)
    compared = dict(expansion.live_diffs)
    first, *rest = tasks
    flipped = first.spec.model_copy(update={"critical": not first.spec.critical})
    edited = first.model_copy(update={"spec": flipped})
    result = _pass(sim, expansion, [edited, *rest])
    assert [t.name for t in result.update] == [first.name]
    assert result.update[0].spec.critical == first.spec.critical  # back to the desired value
    fresh = [n for n, entry in expansion.live_diffs.items() if entry is not compared[n]]
    assert fresh == [first.name]


def test_a_pass_skips_the_tasks_that_did_not_change_since_the_pass_that_settled_them(
    monkeypatch: Any,
) -> None:
    """A deploy of 10,000 tasks is many passes that wait: a task object that a pass found
    nothing to change in is not looked at again by the next one with the same target; a
    status write (a new object) or another target makes it looked at again."""

    looked = _names_passed(monkeypatch, "_update")
    sim, expansion = _settled()
    tasks = _owned(sim)
    assert not _pass(sim, expansion, tasks).update
    assert set(looked) == {t.name for t in tasks}
    looked.clear()
    assert not _pass(sim, expansion, tasks).update
    assert looked == []  # it looked at every task again before
    first, *rest = tasks
    written = _status_written(first, "seen")
    assert not _pass(sim, expansion, [written, *rest]).update
    assert looked == []  # a status write that changes no input of _update: passed over
    written = _status_written(written, "reset", state="STANDBY")
    _pass(sim, expansion, [written, *rest])
    assert looked == [first.name]  # one that does: looked at again
    looked.clear()
    stopping = sim.env.model_copy(
        update={"spec": sim.env.spec.model_copy(update={"state": "CONFIGURED"})}
    )
    result = plan(
        stopping, sim.workflow, sim.classes, [written, *rest], now=sim.now, expansion=expansion
    )
    assert {t.name for t in result.update} == {t.name for t in tasks}  # STOP: every task


def test_a_pass_over_the_same_stored_tasks_converges_none_of_them_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Settled tasks are passed over in the loop itself: no call per task (every waiting pass
    over 10,000 tasks made two per task to find nothing to do)."""
    sim, expansion = _settled()
    tasks = _owned(sim)
    assert not _pass(sim, expansion, tasks).update  # settles every task
    converged = _names_passed(monkeypatch, "_converge")
    assert not _pass(sim, expansion, tasks).update
    assert converged == []
    first, *rest = tasks
    moved = _status_written(first, "moved")  # a new stored object, with the same inputs
    assert not _pass(sim, expansion, [moved, *rest]).update
    assert converged == []
    moved = _status_written(moved, "reset", state="STANDBY")  # no longer configured
    _pass(sim, expansion, [moved, *rest])
    assert converged == [first.name]


def test_the_leave_to_reconfigure_now_looks_again_only_at_the_stale_tasks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """When a START ends, a RUNNING environment's stale tasks may no longer be reconfigured
    at once (`spec.reconfigure: NextRun`): only they can need another write for it, so the
    pass after a START of 10,000 tasks looks at those, not at every task again."""
    sim, expansion = _settled()
    first, *rest = _owned(sim)
    status = first.status.model_copy(update={"configured_properties": "an older digest"})
    tasks = [first.model_copy(update={"status": status}), *rest]
    now = sim.env.model_copy(
        update={"spec": sim.env.spec.model_copy(update={"reconfigure": "Now"})}
    )

    def run(env: Any) -> Plan:
        return plan(env, sim.workflow, sim.classes, tasks, now=sim.now, expansion=expansion)

    assert not run(sim.env).update  # NextRun: the stale task waits for the next run
    converged = _names_passed(monkeypatch, "_converge")
    assert [t.name for t in run(now).update] == [first.name]  # Now: RESET it at once
    assert converged == [first.name]  # before: every task
    converged.clear()
    assert not run(sim.env).update
    assert converged == [first.name]


def test_a_steady_pass_over_unchanged_tasks_looks_at_none_of_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Whether every task is configured (status.configVersions) is kept per task with the
    view: a steady pass after a transition over 10,000 tasks looked at each of them again."""
    sim, expansion = _settled()
    tasks = _owned(sim)
    _pass(sim, expansion, tasks)
    looked = _names_passed(monkeypatch, "observed")
    _pass(sim, expansion, tasks)
    assert looked == []  # before: one look per task
    view = expansion.observed
    assert view.configured_at("RUNNING")
    first, *rest = tasks
    moved = _status_written(first, "reset", state="STANDBY")
    _pass(sim, expansion, [moved, *rest])
    assert not view.configured_at("RUNNING")
    back = _status_written(moved, "again", state="RUNNING")
    _pass(sim, expansion, [back, *rest])
    assert view.configured_at("RUNNING")
    assert not view.basic  # no basic task: safe_to_stop looks at none either
