"""Run numbers exactly once: the environment controller on real etcd, with writers that race
its status write (as the ComponentConfig controller's condition writes do) and crashes between
allocating a number and showing it. The task side is simulated (tests.environments.fake_tasks).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from controller.environments.controller import (
    RUN_CLAIMS_KEY,
    RUN_NUMBER_KEY,
    EnvironmentReconciler,
)
from controller.environments.runvars import millis
from controller.runtime.clock import FakeClock, SystemClock
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

    def __init__(self, store: EtcdStore, *, races: int = 1, clock: FakeClock | None = None) -> None:
        """`clock`: moved on 7 s at each race, so a retry that took a new time would show it."""
        self._store = store
        self.races = races
        self.clock = clock
        self.shown: list[int] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def update_status(self, obj: Any) -> Any:
        number = getattr(obj.status, "run_number", None)
        racing = self.races and isinstance(obj, Environment)
        if racing and isinstance(number, int) and number not in self.shown:
            self.shown.append(number)
            self.races -= 1
            if self.clock is not None:
                self.clock.advance(7)
            await conflicting_condition_write(self._store, obj.name)
        return await self._store.update_status(obj)


def start_with(harness: Harness, store: Any, *, clock: FakeClock | None = None) -> None:
    ctx = Context(
        store=store,
        kv=harness.store,
        informers=harness.factory,
        events=harness.sink,
        clock=clock or SystemClock(),
    )
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


async def test_a_retried_start_shows_the_start_time_recorded_with_its_run_number(
    harness: Harness, tmp_path: Path
) -> None:
    """The run's start time is written with the run number in the allocation txn: the status
    write that loses its compare is retried later (the clock moved on) with the same time."""
    clock = FakeClock()
    allocated_at = millis(clock.now())
    racing = RaceOnRunNumberWrite(harness.store, races=3, clock=clock)
    start_with(harness, racing, clock=clock)
    await apply_samples(harness, tmp_path / "runs.txt")
    env = await harness.wait_state("physics-1", "RUNNING")
    assert racing.shown == [1] and millis(clock.now()) != allocated_at  # retried later
    assert env.status.runtime_vars["run_start_time_ms"] == allocated_at
    record = await harness.store.get_raw(f"{harness.store.prefix}/{RUN_CLAIMS_KEY}/physics-1")
    assert record is not None
    assert json.loads(record.value)["data"] == {"run_start_time_ms": allocated_at}
