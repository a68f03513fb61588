"""hack.bench.loopwatch: a run's selector waits and marked calls, as a timeline."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from hack.bench.loopwatch import read_dump, timeline

SLEEPER = """
import asyncio, sys
async def main():
    print("ready", flush=True)
    await asyncio.sleep(0.3)
    sum(range(3_000_000))  # busy
    await asyncio.sleep(60)
asyncio.run(main())
"""


def test_timeline_splits_a_window_into_idle_and_busy_steps_with_the_marks() -> None:
    dump = {
        # idle 0-0.1 and 0.3-0.4; busy 0.1-0.3 with 0.1 s of CPU
        "idle": [[0.0, 0.1, 0.0, 0.0, 0.0], [0.3, 0.4, 0.1, 0.1, 0.25]],
        "marks": [[0.05, "a"], [0.15, "b"], [0.25, "b"], [5.0, "late"]],
    }
    text = timeline(dump, 0.0, 0.4, step=0.1)
    lines = text.splitlines()
    assert lines[0].startswith(
        "window 0.400 s; idle 0.200 s; main thread CPU 0.100 s; process CPU 0.250 s"
    )
    assert lines[1].split() == ["a", "0.050", "0.050", "1"]
    assert lines[2].split() == ["b", "0.150", "0.250", "2"]
    assert "late" not in text  # outside the window
    steps = lines[3:]
    assert steps[0].split()[:5] == ["0.00", "idle", "100.0%", "cpu", "0.0%"]
    assert steps[1].split() == ["0.10", "idle", "0.0%", "cpu", "50.0%", "b=1"]
    assert steps[3].split()[:3] == ["0.30", "idle", "100.0%"]


def test_a_module_run_under_loopwatch_dumps_its_waits_on_sigusr1(tmp_path: Path) -> None:
    script = tmp_path / "sleeper.py"
    script.write_text(SLEEPER)
    with subprocess.Popen(
        [sys.executable, "-m", "hack.bench.loopwatch", str(tmp_path), "-m", "sleeper"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])},
        stdout=subprocess.PIPE,
    ) as proc:
        try:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == b"ready"
            start = time.monotonic()
            time.sleep(1.0)
            dump = read_dump(tmp_path, proc.pid)
            end = time.monotonic()
        finally:
            proc.kill()
    assert dump is not None
    text = timeline(dump, start, end)
    idle = float(text.split("; idle ")[1].split(" s")[0])
    assert 0.3 < idle <= end - start  # asleep most of the window, not all of it
    assert dump["idle"][0][0] < start + 0.5  # the first wait began with the sleep
