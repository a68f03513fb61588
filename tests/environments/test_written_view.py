"""The controller's own spec writes come back as the objects the store returned (the informer
hands on the store's own write as its echo): such an echo keeps the status object and changes
nothing a pass derives from its task (controller.environments.observed), so the next pass
swaps it in without refreshing it (a transition over 10,000 tasks refreshed each task for its
spec echo), and still decides what a plan without memory decides."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from controller.environments.expand import expand
from controller.environments.expansion import Expansion
from controller.environments.observed import Observed
from controller.environments.plan import Plan, plan, with_run_number
from controller.environments.runvars import millis
from controller.environments.taskset import TaskSet, settle_written
from crds.kinds.environment import Environment
from crds.kinds.task import Task
from crds.labels import ENV_LABEL
from store import codec
from tests.environments.helpers import Sim, running_sim, with_spec, with_vars
from tests.environments.test_observed import _fresh, _same


def _owned(tasks: dict[str, Task], env: Environment) -> list[Task]:
    return [t for t in tasks.values() if t.metadata.labels.get(ENV_LABEL) == env.name]


def _calls(monkeypatch: pytest.MonkeyPatch, owner: Any, method: str) -> list[object]:
    seen: list[object] = []
    real = getattr(owner, method)

    def counting(self: Any, first: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(first)
        return real(self, first, *args, **kwargs)

    monkeypatch.setattr(owner, method, counting)
    return seen


class Walk:
    """The environment controller's loop with one kept expansion: each plan's updates are
    written (a new resourceVersion), settled, and handed back as the informer hands them
    (the very objects); the tasks answer when told."""

    def __init__(self, sim: Sim, expansion: Expansion) -> None:
        self.sim, self.expansion, self.env = sim, expansion, sim.env
        self.tasks = dict(sim.tasks)
        self.version = 5000
        self.vars = sim.env.spec.vars

    def plan(self, expansion: Expansion | None = None) -> Plan:
        owned = _owned(self.tasks, self.env)
        return plan(
            self.env,
            self.sim.workflow,
            self.sim.classes,
            owned,
            now=self.sim.now,
            expansion=expansion or self.expansion,
            taken=set(self.tasks),
        )

    def step(self) -> Plan:
        run = self.env.status.run_number
        same = self.env.spec.vars == self.vars  # else new inputs: a new expansion, new memos
        self.expansion = expand(
            self.env,
            self.sim.workflow,
            self.sim.classes,
            run_number=run,
            tasks_from=self.expansion if same else None,
        )
        self.vars = self.env.spec.vars
        fresh = self.plan(_fresh(self.expansion))
        result = self.plan()
        _same(result, fresh)
        written = []
        for task in result.update:
            self.version += 1
            written.append(codec.with_revision(task, self.version))
        settle_written(self.expansion, written)
        self.tasks.update({t.name: t for t in written})
        for task in result.delete:
            del self.tasks[task.name]
        for task in result.create:
            self.version += 1
            self.tasks[task.name] = codec.with_revision(task, self.version)
        status = result.status
        if result.allocate_run_number:
            status = with_run_number(status, 7, started_ms=millis(self.sim.now))
        self.env = self.env.model_copy(update={"status": status})
        return result

    def answer(self) -> int:
        answered = 0
        for name, task in list(self.tasks.items()):
            phase = "Finished" if task.spec.state == "DONE" else "Running"
            if task.status.state == task.spec.state and task.status.phase == phase:
                continue
            status = task.status.model_copy(update={"state": task.spec.state, "phase": phase})
            self.version += 1
            told = task.model_copy(update={"status": status})
            self.tasks[name] = codec.with_revision(told, self.version)
            answered += 1
        return answered


def test_the_echo_of_a_spec_write_costs_the_next_pass_no_refresh_and_no_compare(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sim, expansion = running_sim()
    walk = Walk(sim, expansion)
    walk.env = with_spec(sim.env, state="CONFIGURED")
    result = walk.step()
    assert len(result.update) == len(_owned(walk.tasks, walk.env)) > 1
    swapped = _calls(monkeypatch, Observed, "_swap")
    refreshed = _calls(monkeypatch, Observed, "_refresh")
    updated = _calls(monkeypatch, TaskSet, "_update")
    again = walk.plan()
    assert not again.update
    assert len(swapped) == len(result.update)
    assert refreshed == updated == []  # before: each echo refreshed
    assert expansion.observed.visited == 2 * len(result.update)  # swapped, settle check
    _same(again, walk.plan(_fresh(expansion)))


def test_passes_after_own_writes_decide_what_a_full_walk_decides() -> None:
    """STOP, a properties change that reconfigures, roles added then dropped (their tasks
    stopped, then deleted), START and STOP again: every pass of the kept view, its spec echoes
    swapped in without a refresh, plans what a plan without memory plans."""
    sim, expansion = running_sim()
    walk = Walk(sim, expansion)
    changes: list[Callable[[Environment], Environment]] = [
        lambda env: with_spec(env, state="CONFIGURED"),
        lambda env: with_vars(env, rate="900"),
        lambda env: with_vars(env, detectors='["TPC", "ITS"]'),
        lambda env: with_vars(env, detectors='["TPC"]'),
        lambda env: with_spec(env, state="RUNNING"),
        lambda env: with_spec(env, state="CONFIGURED"),
    ]
    wrote = deleted = 0
    for change in changes:
        walk.env = change(walk.env)
        for _ in range(20):
            result = walk.step()
            wrote += len(result.update)
            deleted += len(result.delete)
            if result.update or result.delete or result.create:
                continue
            if not walk.answer() and walk.env.status.transition is None:
                break
    assert wrote > 10 and deleted > 0
