"""real_tasks_bench sizes a run of N sample tasks from measured memory: private dirty pages are
each task's own, the rest of its resident pages (shared libraries) are shared by all N; the
probe measures real sample tasks, and the phase lines say which step was never seen."""

from __future__ import annotations

import os
from types import SimpleNamespace
from typing import cast

from hack.bench import task_memory
from hack.bench.real_tasks_phases import Phases, phase_text
from store.api import Store


def test_per_task_memory_shares_the_file_pages_among_the_tasks() -> None:
    rollups = [
        {"Private_Dirty": 15 * 1024, "Rss": 35 * 1024},
        {"Private_Dirty": 17 * 1024, "Rss": 37 * 1024},
    ]
    assert task_memory.per_task_mb(rollups, tasks=1) == 36
    assert task_memory.per_task_mb(rollups, tasks=1000) == 16 + 20 / 1000


def test_the_probe_measures_running_sample_tasks() -> None:
    measured = task_memory.probe(1000)
    assert 5 < measured["probe_mb_per_task"] < 100
    assert measured["mb_per_task"] == measured["probe_mb_per_task"] + task_memory.GROWTH_MB
    assert task_memory.census(set(), set()) == {"processes": 0}
    own = task_memory.census({os.getpid()}, set())
    assert own["processes"] == 1 and own["pss_kb"] > 0


def test_phase_lines_name_the_steps_never_seen() -> None:
    row = {"wall_seconds": 9.0, "phases": {"spawned_seconds": 4.0}}
    assert phase_text("DEPLOY", row) == (
        "DEPLOY          spawned 4.0 s, answered OCC -, environment 9.0 s"
    )
    assert phase_text("CONFIGURE", {"wall_seconds": 1.0, "phases": {"answered_seconds": 0.5}}) == (
        "CONFIGURE       answered OCC 0.5 s, environment 1.0 s"
    )


class _Listed:
    def __init__(self, states: list[str]) -> None:
        self.items = [SimpleNamespace(status=SimpleNamespace(state=s)) for s in states]


class _Store:
    def __init__(self, states: list[str]) -> None:
        self.states = states

    async def list(self, kind: object) -> _Listed:
        return _Listed(self.states)


async def test_a_step_first_seen_at_the_end_is_bounded_by_the_environment() -> None:
    store = _Store(["STANDBY", "CONFIGURED"])
    phases = Phases(cast(Store, store), tasks=2, state="CONFIGURED", count_processes=None)
    await phases.finish(3.5)  # not all answered: no mark
    assert phases.marks == {}
    store.states = ["CONFIGURED", "CONFIGURED"]
    await phases.finish(4.0)
    assert phases.marks == {"answered_seconds": 4.0}
