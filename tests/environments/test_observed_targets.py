"""A transition's start and end cost the tasks it did not find ready, not all of them: the
tasks a new target waits for, and whether every task is configured once a transition ends,
are derived from what the view kept for the previous target (controller.environments.
observed), with the full walk's answers."""

from __future__ import annotations

from typing import Any

import pytest

from controller.environments import observed
from controller.environments.expand import expand
from controller.environments.observed import Observed
from crds.kinds.task import Task
from tests.environments.test_observed import LOOKED, _configuring, _pass, _with_state


def _readies(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the tasks `observed.ready` is asked about from now on."""
    asked: list[str] = []
    real = observed.ready

    def counting(have: Task | None, want: Any, target: str) -> bool:
        asked.append(want.name)
        return real(have, want, target)

    monkeypatch.setattr(observed, "ready", counting)
    return asked


def _view(tasks: list[Task], expansion: Any, env: Any) -> Observed:
    view = Observed()
    view.sync_tasks(env.metadata.uid, env.name, tasks)
    view.sync_wants(expansion)
    return view


def test_a_new_target_looks_only_at_the_tasks_the_last_one_waited_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """CONFIGURED -> RUNNING over 400 tasks, 200 of them ready for CONFIGURED: those are not
    at RUNNING, so only the 200 others are asked about (before: all 400)."""
    env, workflow, classes, tasks = _configuring(400)
    tasks[0] = _with_state(tasks[0], "RUNNING")  # waited for at CONFIGURED, ready at RUNNING
    expansion = expand(env, workflow, classes, run_number=None)
    view = _view(tasks, expansion, env)
    count, _ = view.not_ready("CONFIGURED", 5)
    assert count == 200
    asked = _readies(monkeypatch)
    count, first = view.not_ready("RUNNING", 5)
    assert len(asked) == 200
    full = _view(tasks, expansion, env)
    assert (count, first) == full.not_ready("RUNNING", 5)
    assert count == 399


def test_the_end_of_a_transition_reads_only_the_tasks_that_arrived_last() -> None:
    """The pass that sees the last of 2,000 tasks arrive ends the CONFIGURE and records
    the configs (every task configured as desired): it reads that task, not all 2,000."""
    env, workflow, classes, tasks = _configuring(2000)
    expansion = expand(env, workflow, classes, run_number=None)
    _pass(env, workflow, classes, tasks, expansion)
    tasks = tasks[:1] + [_with_state(t, "CONFIGURED") for t in tasks[1:]]
    waiting = _pass(env, workflow, classes, tasks, expansion)
    assert waiting.status.transition is not None
    tasks[0] = _with_state(tasks[0], "CONFIGURED")
    LOOKED.clear()
    done = _pass(env, workflow, classes, tasks, expansion)
    assert done.status.transition is None and done.status.state == "CONFIGURED"
    assert len(LOOKED) <= 3, f"{len(LOOKED)} of 2000 tasks read"
    assert expansion.observed.configured_at("CONFIGURED")


def test_configured_at_the_end_of_a_transition_is_the_full_walks_answer() -> None:
    """A task left stale (configured with other properties) or not at the target keeps
    `configured_at` False as a walk over every task finds it."""
    env, workflow, classes, tasks = _configuring(400)
    expansion = expand(env, workflow, classes, run_number=None)
    stale = tasks[3].status.model_copy(update={"configured_properties": "an older digest"})
    tasks[3] = tasks[3].model_copy(update={"status": stale})
    for changed in (tasks, [_with_state(t, "CONFIGURED") for t in tasks]):
        view = _view(changed, expansion, env)
        view.not_ready("CONFIGURED", 5)
        full = _view(changed, expansion, env)
        assert view.configured_at("CONFIGURED") == full.configured_at("CONFIGURED") is False
        assert view.off == full.off
