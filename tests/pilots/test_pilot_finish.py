"""A pilot killed at any point while it records a finished job: the job ends in exactly one
folder, and a job that reached done/ is never queued (so never run) again."""

from __future__ import annotations

import contextlib
import fcntl
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from executor.pilot import Layout, Pilot, Running, write_json


class Killed(BaseException):
    """The pilot process dying (kill -9) before the next filesystem step."""


def where(layout: Layout, job: str) -> list[str]:
    found = [p.parent.name for p in (layout.queue, layout.done) if (p / f"{job}.json").exists()]
    return found + (["running"] if (layout.mine / f"{job}.json").exists() else [])


@pytest.mark.parametrize("steps", range(4))
def test_a_pilot_killed_while_finishing_a_job_never_has_it_run_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, steps: int
) -> None:
    """Regression: the finished job was written to done/ before its claim was removed, so a
    pilot killed between the two left it in both, and the successor queued it again."""
    layout = Layout(tmp_path / "jobs", "p1")
    layout.make()
    claimed = layout.mine / "j1.json"
    write_json(claimed, {"id": "j1", "progress": 0.5})
    job = subprocess.Popen([sys.executable, "-c", "pass"])  # the job's process, succeeded
    job.wait()
    lock = os.open(claimed, os.O_RDWR)  # the claim's lock, as `Pilot.claim` holds it
    fcntl.flock(lock, fcntl.LOCK_EX)
    pilot = Pilot(layout, tmp_path / "p1-status.json")
    pilot.running["j1"] = Running("j1", claimed, job, lock)
    done_seen: list[bool] = []

    def dies_after(fn: Callable[..., Any]) -> Callable[..., Any]:
        def step(*args: Any, **kwargs: Any) -> Any:
            if len(done_seen) >= steps:
                raise Killed
            result = fn(*args, **kwargs)
            done_seen.append("done" in where(layout, "j1"))
            return result

        return step

    with monkeypatch.context() as patched:
        patched.setattr(os, "replace", dies_after(os.replace))
        patched.setattr(Path, "unlink", dies_after(Path.unlink))
        with contextlib.suppress(Killed):
            pilot.reap()
    with contextlib.suppress(OSError):  # the dying process's descriptors close with it
        os.close(lock)
    successor = Pilot(layout, tmp_path / "p1-status.json")
    assert successor.recover()
    found = where(layout, "j1")
    assert len(found) == 1, found
    if any(done_seen):
        assert found == ["done"]
