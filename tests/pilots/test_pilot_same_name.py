"""Two pilots of one name at once (a replacement launched while its predecessor still runs):
the newcomer's recovery must not take a job the live one has claimed, neither before the job
process has started nor after it exited and before the live pilot moved the job on."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from executor.pilot import Layout, Pilot
from tests.pilots.jobs import accounting, add_jobs
from tests.waiting import eventually


def pilot(jobs: Path, name: str) -> Pilot:
    layout = Layout(jobs, name)
    layout.make()
    return Pilot(layout, jobs / f"{name}-{id(layout)}.status.json", slots=1, grace=0.5)


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Pilot]:
    """The pilot already running; its job processes are killed by pid afterwards."""
    jobs = tmp_path / "jobs"
    add_jobs(jobs, count=1, seconds=30)
    first = pilot(jobs, "p1")
    yield first
    for run in first.running.values():
        if run.proc.poll() is None:
            os.kill(run.proc.pid, signal.SIGKILL)
        run.proc.wait(timeout=10)


def test_a_claimed_job_is_not_recovered_by_a_second_pilot_of_the_same_name(
    tmp_path: Path, live: Pilot
) -> None:
    jobs = tmp_path / "jobs"
    assert live.claim()
    newcomer = pilot(jobs, "p1")
    assert newcomer.recover() is False  # left: someone holds it
    assert newcomer.counts["recovered"] == 0
    assert not newcomer.claim()
    assert accounting(jobs) == {"queue": 0, "running": 1, "done": 0, "total": 1}


async def test_a_finished_job_is_not_requeued_before_its_pilot_moves_it_to_done(
    tmp_path: Path,
) -> None:
    jobs = tmp_path / "jobs"
    add_jobs(jobs, count=1, seconds=0)
    first = pilot(jobs, "p1")
    assert first.claim()
    (run,) = first.running.values()
    await eventually(lambda: run.proc.poll() is not None, within=20)
    assert run.proc.returncode == 0
    newcomer = pilot(jobs, "p1")
    newcomer.recover()
    assert newcomer.counts["recovered"] == 0
    first.reap()
    assert accounting(jobs) == {"queue": 0, "running": 0, "done": 1, "total": 1}
    assert first.counts["done"] == 1
