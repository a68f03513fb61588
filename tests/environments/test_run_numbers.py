"""Run numbers exactly once: the environment controller on real etcd, with writers that race
its status write (as the ComponentConfig controller's condition writes do) and crashes between
allocating a number and showing it. The task side is simulated (tests.environments.fake_tasks).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from controller.environments.controller import RUN_NUMBER_KEY, EnvironmentReconciler
from controller.runtime.reconciler import Context
from controller.runtime.runner import Controller
from crds.conditions import set_condition
from crds.kinds.environment import Environment
from crds.meta import Condition, utcnow
from store.etcd import EtcdStore
from tests.environments.test_controller import Harness, apply_samples, harness

__all__ = ["harness"]


async def conflicting_condition_write(store: EtcdStore, name: str) -> None:
    """What the ComponentConfig controller does to an Environment: a condition in its status."""
    env = await store.get(Environment, name)
    cond = Condition(type="ConfigChangePending", status="False", reason="UpToDate")
    conditions = set_condition(env.status.conditions, cond, now=utcnow())
    status = env.status.model_copy(update={"conditions": conditions})
    await store.update_status(env.model_copy(update={"status": status}))


class RaceOnRunNumberWrite:
    """A store whose status writes that show a new run number first let another writer change
    the environment, so they lose their compare (`races` times)."""

    def __init__(self, store: EtcdStore, *, races: int = 1) -> None:
        self._store = store
        self.races = races
        self.shown: list[int] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def update_status(self, obj: Any) -> Any:
        number = getattr(obj.status, "run_number", None)
        racing = self.races and isinstance(obj, Environment)
        if racing and isinstance(number, int) and number not in self.shown:
            self.shown.append(number)
            self.races -= 1
            await conflicting_condition_write(self._store, obj.name)
        return await self._store.update_status(obj)


def start_with(harness: Harness, store: Any) -> None:
    ctx = Context(store=store, kv=harness.store, informers=harness.factory, events=harness.sink)
    ctl = Controller(EnvironmentReconciler(ctx))
    ctl.attach()
    ctl.start()
    harness.controllers.append(ctl)


async def counter(harness: Harness) -> int:
    raw = await harness.store.get_raw(f"{harness.store.prefix}/{RUN_NUMBER_KEY}")
    return int(raw.value) if raw is not None else 0


async def test_status_write_conflict_at_start_keeps_the_allocated_run_number(
    harness: Harness, tmp_path: Path
) -> None:
    marker = tmp_path / "runs.txt"
    racing = RaceOnRunNumberWrite(harness.store, races=3)
    start_with(harness, racing)
    await apply_samples(harness, marker)
    env = await harness.wait_state("physics-1", "RUNNING")
    assert racing.shown == [1], "the retried status write showed another number"
    assert env.status.run_number == 1
    assert await counter(harness) == 1
    assert marker.read_text() == "1\n"
