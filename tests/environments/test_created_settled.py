"""A DEPLOY creates N tasks, then waits for them: the informer's copy of each create (a new
object with the resourceVersion the store gave it) needs nothing with the inputs it was made
with, as the echo of a written update (test_written_settled): it is passed over without
`_converge` comparing its spec with the desired one (10,000 calls per DEPLOY before)."""

from __future__ import annotations

import pytest

from controller.environments.expand import expand
from controller.environments.plan import plan
from controller.environments.taskset import settle_written
from crds.kinds.task import Task
from store import codec
from tests.environments.helpers import T0, samples
from tests.environments.test_observed import _fresh
from tests.environments.test_written_settled import _count, _echo


def test_the_echo_of_a_created_task_is_passed_over(monkeypatch: pytest.MonkeyPatch) -> None:
    env, workflow, classes = samples()
    expansion = expand(env, workflow, classes, run_number=None)
    deploy = plan(env, workflow, classes, [], now=T0, expansion=expansion)
    assert len(deploy.create) == 3
    env = env.model_copy(update={"status": deploy.status})
    stored = [codec.prepare_create(t, now=T0) for t in deploy.create]  # as create_many does
    written = [codec.with_revision(t, 100 + i) for i, t in enumerate(stored)]
    settle_written(expansion, written)
    converged = _count(monkeypatch, "_converge")
    echoes = [_echo(t) for t in written]
    result = plan(env, workflow, classes, echoes, now=T0, expansion=expansion)
    assert not result.create and not result.update and not result.delete
    assert converged == []  # before: each created task looked at once more
    again = plan(env, workflow, classes, echoes, now=T0, expansion=_fresh(expansion))
    assert not again.create and not again.update and not again.delete  # a full walk agrees
    assert len(converged) == 3


def test_a_created_task_written_otherwise_is_looked_at(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the spec built for a task is settled by its create: a task by that name written
    with another spec (e.g. by someone else meanwhile) is compared as before."""
    env, workflow, classes = samples()
    expansion = expand(env, workflow, classes, run_number=None)
    deploy = plan(env, workflow, classes, [], now=T0, expansion=expansion)
    env = env.model_copy(update={"status": deploy.status})
    first, *rest = (codec.prepare_create(t, now=T0) for t in deploy.create)
    other = first.model_copy(update={"spec": first.spec.model_copy(update={"critical": False})})
    written = [codec.with_revision(t, 100 + i) for i, t in enumerate([other, *rest])]
    settle_written(expansion, written)
    converged = _count(monkeypatch, "_converge")
    echoes: list[Task] = [_echo(t) for t in written]
    result = plan(env, workflow, classes, echoes, now=T0, expansion=expansion)
    assert converged == [first.name]
    assert [t.name for t in result.update] == [first.name]
