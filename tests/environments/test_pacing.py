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


def test_a_large_waiting_environment_is_paced_however_cheap_its_plan() -> None:
    """A plan over 10,000 tasks now costs milliseconds; each look still writes the status, so
    the next one waits at least PACE_PER_TASK per task (times the share still on its way)."""
    from controller.environments.controller import PACE_PER_TASK, pace_gap
    from crds.kinds.environment import EnvironmentStatus, TransitionProgress

    progress = TransitionProgress(event="CONFIGURE", step="tasks_CONFIGURE")
    waiting = EnvironmentStatus(
        state="DEPLOYED",
        transition=progress,
        task_total=10_000,
        task_counts={"STANDBY": 5_000, "CONFIGURED": 5_000},
    )
    assert pace_gap(0.005, waiting) == 10_000 * PACE_PER_TASK * 0.5
    small = waiting.model_copy(update={"task_total": 100, "task_counts": {"STANDBY": 100}})
    assert pace_gap(0.005, small) is None  # small ones are looked at again at once
    assert pace_gap(1.0, waiting) == 2.0 * 1.0 * 0.5  # a costly plan: PACE x its time


def test_a_paced_transition_is_looked_at_again_once_its_last_tasks_changed() -> None:
    """The pace hold of a waiting transition ends after as many task changes as tasks it still
    waits for (Result.pace_adds): the end of a transition is not held for the rest of the gap."""
    from controller.environments.controller import to_come
    from crds.kinds.environment import EnvironmentStatus, TransitionProgress

    progress = TransitionProgress(event="START_ACTIVITY", step="tasks_START_ACTIVITY")
    waiting = EnvironmentStatus(
        state="CONFIGURED",
        transition=progress,
        task_total=10_000,
        task_counts={"CONFIGURED": 40, "RUNNING": 9_960},
    )
    assert to_come(waiting) == 40
    steady = waiting.model_copy(update={"transition": None})
    assert to_come(steady) is None  # steady: paced for the whole gap
