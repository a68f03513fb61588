"""A plan that waits for a large environment's tasks costs the tasks that changed since the
last pass (controller.environments.observed), and decides exactly what a full walk decides."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from controller.environments.expand import expand
from controller.environments.expansion import Expansion
from controller.environments.observed import FULL_EVERY, Observed
from controller.environments.plan import Plan, plan
from crds.kinds.environment import Environment, TransitionProgress
from crds.kinds.task import Task
from crds.kinds.taskclass import TaskClass
from crds.kinds.workflow import Workflow
from crds.labels import ENV_LABEL
from crds.meta import ObjectMeta, utcnow
from hack.bench.environments_shape import manifests

NOW = utcnow()


class Looked(Task):
    """A task that notes when a plan reads its metadata, spec or status."""

    def __getattribute__(self, name: str) -> Any:
        if name in ("metadata", "spec", "status"):
            LOOKED.add(id(self))
        return super().__getattribute__(name)


LOOKED: set[int] = set()


def _configuring(size: int) -> tuple[Environment, Workflow, dict[str, TaskClass], list[Task]]:
    """An environment in CONFIGURE, its tasks told CONFIGURED, every other one there."""
    taskclasses, workflow, env = manifests(size, size // 200)
    classes = {c.name: c for c in taskclasses}
    wanted = expand(env, workflow, classes, run_number=None)
    tasks: list[Task] = []
    for i, want in enumerate(wanted.tasks.values()):
        told = want.spec.model_copy(update={"state": "CONFIGURED", "environment": env.name})
        meta = ObjectMeta(name=want.name, labels={ENV_LABEL: env.name})
        seen = Task(metadata=meta, spec=told).status.model_copy(
            update={
                "phase": "Running",
                "state": "CONFIGURED" if i % 2 else "STANDBY",
                "configured_properties": want.digest,
            }
        )
        tasks.append(Looked.model_construct(metadata=meta, spec=told, status=seen))
    progress = TransitionProgress(event="CONFIGURE", started_at=NOW, step="tasks_CONFIGURE")
    status = env.status.model_copy(update={"state": "DEPLOYED", "transition": progress})
    spec = env.spec.model_copy(update={"state": "CONFIGURED"})
    return env.model_copy(update={"spec": spec, "status": status}), workflow, classes, tasks


def _pass(env: Environment, workflow: Workflow, classes: Any, tasks: list[Task], ex: Any) -> Plan:
    return plan(env, workflow, classes, tasks, now=NOW, expansion=ex)


def _with_state(task: Task, state: str, phase: str = "Running") -> Task:
    status = task.status.model_copy(update={"state": state, "phase": phase})
    return task.model_copy(update={"status": status})


def test_a_waiting_pass_reads_only_the_task_that_changed() -> None:
    env, workflow, classes, tasks = _configuring(2000)
    expansion = expand(env, workflow, classes, run_number=None)
    first = _pass(env, workflow, classes, tasks, expansion)
    assert first.status.transition is not None
    assert first.status.transition.message.startswith("waiting for 1000 task(s)")
    tasks[0] = _with_state(tasks[0], "CONFIGURED")
    LOOKED.clear()
    second = _pass(env, workflow, classes, tasks, expansion)
    assert second.status.transition is not None
    assert second.status.transition.message.startswith("waiting for 999 task(s)")
    # the changed one (both objects) and the five the message names; a full walk reads 2000
    assert len(LOOKED) <= 8, f"{len(LOOKED)} of 2000 tasks read"
    assert expansion.observed.visited <= 4  # forgotten, learnt, refreshed, converged
    assert second.status.task_counts == {"CONFIGURED": 1001, "STANDBY": 999}


def test_a_write_that_keeps_a_task_in_place_moves_its_counts_only() -> None:
    """A status write (or a spec write keeping owner, environment and role) swaps the task's
    object in the view: one look, the counts moved, the full walk's answer; a write that moves
    it to another role is forgotten and learnt again."""
    env, workflow, classes, tasks = _configuring(400)
    expansion = expand(env, workflow, classes, run_number=None)
    _pass(env, workflow, classes, tasks, expansion)
    view = expansion.observed
    tasks[0] = _with_state(tasks[0], "CONFIGURED")
    assert view.sync_tasks(env.metadata.uid, env.name, tasks) is not None
    assert view.visited == 1
    assert view.state_counts() == {"CONFIGURED": 201, "STANDBY": 199}
    assert view.mine[tasks[0].spec.role] is tasks[0]
    moved = tasks[1].spec.model_copy(update={"role": "elsewhere"})
    tasks[1] = tasks[1].model_copy(update={"spec": moved})
    view.sync_tasks(env.metadata.uid, env.name, tasks)
    assert view.visited == 2  # forgotten, then learnt
    assert view.mine["elsewhere"] is tasks[1]
    full = Observed()
    full.sync_tasks(env.metadata.uid, env.name, tasks)
    assert full.state_counts() == view.state_counts()
    assert full.mine == view.mine


def _fresh(expansion: Expansion) -> Expansion:
    """The same expansion with no memory of earlier passes: a full walk."""
    return replace(expansion, observed=Observed(), live_diffs={}, settled={})


def _same(a: Plan, b: Plan) -> None:
    assert a.status.model_dump() == b.status.model_dump()
    for field in ("create", "update", "delete"):
        got = sorted(t.model_dump_json() for t in getattr(a, field))
        want = sorted(t.model_dump_json() for t in getattr(b, field))
        assert got == want, field


def test_passes_over_changing_tasks_decide_what_a_full_walk_decides() -> None:
    """Task by task the tasks reach CONFIGURED, one is deleted, one fails: every pass of the
    kept view plans what a plan without memory plans from the same inputs."""
    env, workflow, classes, tasks = _configuring(400)
    expansion = expand(env, workflow, classes, run_number=None)
    steps: list[Callable[[list[Task]], list[Task]]] = [
        lambda ts: [_with_state(t, "CONFIGURED") if i < 10 else t for i, t in enumerate(ts)],
        lambda ts: ts[:5] + ts[6:],  # a task gone: created again
        lambda ts: [_with_state(t, "CONFIGURED") for t in ts],
        lambda ts: [*ts[:7], _with_state(ts[7], "ERROR"), *ts[8:]],
        lambda ts: list(reversed(ts)),
    ]
    for change in steps:
        tasks = change(tasks)
        kept = _pass(env, workflow, classes, tasks, expansion)
        _same(kept, _pass(env, workflow, classes, tasks, _fresh(expansion)))
        env = env.model_copy(update={"status": kept.status})


def test_the_view_is_rebuilt_after_a_bounded_number_of_passes() -> None:
    env, workflow, classes, tasks = _configuring(400)
    expansion = expand(env, workflow, classes, run_number=None)
    for _ in range(FULL_EVERY):
        _pass(env, workflow, classes, tasks, expansion)
    assert expansion.observed.visited < 10
    _pass(env, workflow, classes, tasks, expansion)
    assert expansion.observed.visited >= len(tasks)
