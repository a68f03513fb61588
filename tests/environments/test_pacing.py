"""Pacing of the environment controller: only a reconcile that merely waits for its tasks is
followed by a gap (the next reconcile of a large environment waits PACE x its compute time)."""

from __future__ import annotations

from controller.environments.controller import only_waits
from controller.environments.expand import expand
from tests.environments.helpers import Sim, samples


def test_a_plan_that_waits_for_tasks_may_be_paced() -> None:
    env, workflow, classes = samples()
    names = set(expand(env, workflow, classes, run_number=None).tasks)
    sim = Sim(env, workflow, classes, frozen=names)  # the tasks never get anywhere
    sim.step()  # DEPLOY starts: the tasks are created
    waiting = sim.env
    plan = sim.step()
    assert waiting.status.transition is not None
    assert only_waits(waiting, plan)


def test_a_plan_that_writes_tasks_or_advances_a_step_is_followed_at_once() -> None:
    env, workflow, classes = samples()
    sim = Sim(env, workflow, classes)
    first = sim.env
    creates = sim.step()  # DEPLOY starts and creates every task
    assert creates.create
    assert not only_waits(first, creates)
    before = sim.env
    advances = sim.step()  # the tasks are there: the step advances
    assert not advances.create and not advances.update
    assert before.status.transition != advances.status.transition
    assert not only_waits(before, advances)


def test_a_steady_environment_may_be_paced() -> None:
    env, workflow, classes = samples()
    sim = Sim(env, workflow, classes)
    settled = sim.settle()
    assert settled.status.state == "RUNNING"
    assert only_waits(settled, sim.step())
