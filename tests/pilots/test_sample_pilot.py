"""The sample pilot as a real process: claims jobs, runs them as children, drains on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.pilots.jobs import accounting, add_jobs, read_status
from tests.waiting import eventually

PILOT = [sys.executable, "-m", "executor.pilot"]
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def pilots(tmp_path: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def start(
    started: list[subprocess.Popen[bytes]], jobs: Path, *, name: str, grace: float, slots: int = 1
) -> subprocess.Popen[bytes]:
    argv = [*PILOT, "--jobs", str(jobs), "--name", name, "--grace", str(grace)]
    with (jobs.parent / f"{name}.out").open("ab") as out:
        proc = subprocess.Popen(
            [*argv, "--slots", str(slots)], cwd=REPO, stdout=out, stderr=subprocess.STDOUT
        )
    started.append(proc)
    return proc


async def test_pilot_runs_every_queued_job_once(
    tmp_path: Path, pilots: list[subprocess.Popen[bytes]]
) -> None:
    jobs = tmp_path / "jobs"
    add_jobs(jobs, count=6, seconds=0.05)
    start(pilots, jobs, name="p1", grace=1, slots=2)
    start(pilots, jobs, name="p2", grace=1, slots=2)
    await eventually(lambda: accounting(jobs)["done"] == 6, within=20)
    done = [json.loads(p.read_text()) for p in (jobs / "done").glob("*.json")]
    assert sorted(d["id"] for d in done) == [f"job-{i}" for i in range(6)]
    claimed = read_status(jobs, "p1")["claimed"] + read_status(jobs, "p2")["claimed"]
    assert claimed == 6


async def test_drain_finishes_short_jobs_and_requeues_long_ones_with_progress(
    tmp_path: Path, pilots: list[subprocess.Popen[bytes]]
) -> None:
    jobs = tmp_path / "jobs"
    add_jobs(jobs, count=1, seconds=0.2, prefix="short")
    add_jobs(jobs, count=1, seconds=60, prefix="long")
    add_jobs(jobs, count=3, seconds=60, prefix="waiting")
    proc = start(pilots, jobs, name="p1", grace=3.0, slots=2)
    await eventually(lambda: len(read_status(jobs, "p1").get("running", [])) == 2, within=20)
    os.kill(proc.pid, signal.SIGTERM)
    assert proc.wait(timeout=15) == 0
    status = read_status(jobs, "p1")
    assert status["state"] == "drained" and status["running"] == []
    counts = accounting(jobs)
    assert counts == {"queue": 4, "running": 0, "done": 1, "total": 5}
    long_job = json.loads((jobs / "queue" / "long-0.json").read_text())
    assert 0 < long_job["progress"] < 1  # checkpointed, not restarted from zero
    assert status["claimed"] == 2 and status["requeued"] == 1 and status["done"] == 1


async def test_killed_pilots_jobs_are_recovered_by_its_successor(
    tmp_path: Path, pilots: list[subprocess.Popen[bytes]]
) -> None:
    jobs = tmp_path / "jobs"
    add_jobs(jobs, count=2, seconds=60)
    first = start(pilots, jobs, name="p1", grace=1.0, slots=2)
    await eventually(lambda: len(read_status(jobs, "p1").get("running", [])) == 2, within=20)
    os.kill(first.pid, signal.SIGKILL)
    first.wait(timeout=10)
    assert accounting(jobs)["running"] == 2
    second = start(pilots, jobs, name="p1", grace=0.5, slots=2)
    await eventually(lambda: read_status(jobs, "p1").get("recovered") == 2, within=20)
    os.kill(second.pid, signal.SIGTERM)
    assert second.wait(timeout=15) == 0
    assert accounting(jobs) == {"queue": 2, "running": 0, "done": 0, "total": 2}
