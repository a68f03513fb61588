"""A transition that waits for its tasks is woken by the Task events that can end the wait or
need an action, not by every step of every task's progress (controller.environments.waits)."""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.environments import controller as env_controller
from controller.runtime.runner import Controller
from crds.kinds.environment import Environment
from crds.kinds.task import Task, TaskStatus
from store.informer import CacheEvent
from tests.environments.test_controller import Harness, apply_samples, harness
from tests.waiting import eventually

__all__ = ["harness"]  # the fixture, shared with test_controller

NAME = "physics-1"


def _event(old: Task, **status: object) -> CacheEvent[Task]:
    new = old.model_copy(update={"status": old.status.model_copy(update=status)})
    return CacheEvent("MODIFIED", old.name, old, new)


def _task_watch(ctl: Controller) -> env_controller.EnvironmentReconciler:
    reconciler = ctl.reconciler
    assert isinstance(reconciler, env_controller.EnvironmentReconciler)
    return reconciler


async def _waiting_at_configure(harness: Harness, tmp_path: Path) -> Controller:
    """The sample environment RUNNING, then its STOP_ACTIVITY waiting for every task: the
    stand-in task controller is stopped, so no task moves on its own."""
    ctl = harness.start_controller()
    await apply_samples(harness, tmp_path / "runs.txt")
    await harness.wait_state(NAME, "RUNNING", within=30)
    await harness.fake.stop()
    await harness.edit(NAME, state="CONFIGURED")

    def waits() -> bool:
        env = harness.factory.informer(Environment).get(NAME)
        progress = env.status.transition if env is not None else None
        return progress is not None and progress.message.startswith("waiting for")

    await eventually(waits, within=30)
    reconciler = _task_watch(ctl)  # the pass that wrote the specs is followed by one that waits
    await eventually(lambda: reconciler.waits.expected(NAME) is not None, within=30)
    return ctl


async def test_progress_events_do_not_wake_a_waiting_transition_the_last_arrival_does(
    harness: Harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(env_controller, "PROGRESS_FLOOR", 3600.0)  # no refresh pass meanwhile
    ctl = await _waiting_at_configure(harness, tmp_path)
    reconciler = _task_watch(ctl)
    keys = next(w.keys for w in reconciler.watches() if w.kind is Task)
    tasks = sorted(harness.tasks(NAME).values(), key=lambda t: t.spec.critical)  # waited last
    assert len(tasks) >= 3
    assert all(t.spec.state == "CONFIGURED" for t in tasks)

    woken = [keys(_event(t, message="stopping")) for t in tasks]  # progress, not there yet
    woken += [keys(_event(t, state="CONFIGURED")) for t in tasks[:-1]]  # all but the last
    assert [k for k in woken if k] == []
    primary = reconciler.all_watches()[0]  # the environment's own changes
    assert primary.kind is Environment
    env = harness.env(NAME)
    recounted = env.status.model_copy(update={"task_counts": {"CONFIGURED": 2, "RUNNING": 1}})
    own = CacheEvent("MODIFIED", NAME, env, env.model_copy(update={"status": recounted}))
    assert list(primary.keys(own)) == []  # its own status write of new counts
    edited = env.model_copy(update={"spec": env.spec.model_copy(update={"state": "RUNNING"})})
    assert list(primary.keys(CacheEvent("MODIFIED", NAME, env, edited))) == [NAME]
    assert list(keys(_event(tasks[-1], state="CONFIGURED"))) == [NAME]  # the last one

    harness.fake.start()  # the real statuses: the transition ends as before
    await harness.wait_state(NAME, "CONFIGURED", within=30)
    counted = {"CONFIGURED": len(tasks)}  # the non-critical one too, once it is there
    await eventually(lambda: harness.env(NAME).status.task_counts == counted, within=30)


async def test_a_failed_or_changed_task_wakes_a_waiting_transition_at_once(
    harness: Harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(env_controller, "PROGRESS_FLOOR", 3600.0)
    ctl = await _waiting_at_configure(harness, tmp_path)
    reconciler = _task_watch(ctl)
    keys = next(w.keys for w in reconciler.watches() if w.kind is Task)
    first, second, *_ = (t for t in harness.tasks(NAME).values() if t.spec.critical)

    async def woken_again(event: CacheEvent[Task]) -> None:
        """`event` wakes the environment; its pass (queued as the runner would) waits again."""
        assert list(keys(event)) == [NAME]
        reconciler.requeue(NAME)
        await eventually(lambda: reconciler.waits.expected(NAME) is not None, within=30)

    await woken_again(_event(first, state="ERROR"))
    await woken_again(_event(first, phase="Failed"))
    spec = second.spec.model_copy(update={"state": "RUNNING"})
    await woken_again(
        CacheEvent("MODIFIED", second.name, second, second.model_copy(update={"spec": spec}))
    )
    await woken_again(CacheEvent("DELETED", second.name, second, None))
    arrived = second.model_copy(update={"status": TaskStatus(phase="Running", state="CONFIGURED")})
    await woken_again(CacheEvent("ADDED", second.name, None, arrived))
