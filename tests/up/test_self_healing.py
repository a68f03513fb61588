"""`o2 up` supervises its children: a controller killed with SIGKILL in the middle of a START is
restarted within seconds, adopts the running processes (same pids) and finishes the START;
crashes in a row are restarted with a growing back-off; `o2 up status` counts the restarts."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import procutil
from cli.restarts import RestartPolicy, Restarts
from tests.up.test_up import REPO, UP_WITHIN, Ports, Up, interrupt, o2_up, ports, running_env

__all__ = ["ports"]

RESTARTED = re.compile(r"\[controller\] restarted \(pid (\d+); restart (\d+)\)")


def test_back_off_doubles_and_a_crash_loop_gives_up() -> None:
    restarts = Restarts(RestartPolicy(first_delay=0.5, max_delay=3.0, window=60.0, limit=4))
    delays = [restarts.after_exit("controller", now) for now in (0.0, 1.0, 2.0, 3.0)]
    assert delays == [0.5, 1.0, 2.0, 3.0]  # capped at max_delay
    assert restarts.after_exit("controller", 4.0) is None  # a 5th crash within the window
    assert restarts.after_exit("gui", 4.0) == 0.5  # per child
    assert restarts.describe() == "controller 4, gui 1"


def test_default_back_off_is_half_a_second_doubling() -> None:
    restarts = Restarts()  # what `o2 up` uses without --restart-delay
    assert [restarts.after_exit("controller", now) for now in range(4)] == [0.5, 1.0, 2.0, 4.0]


def test_crashes_long_apart_start_the_back_off_over() -> None:
    restarts = Restarts(RestartPolicy(first_delay=0.5, window=10.0, limit=2))
    assert [restarts.after_exit("etcd", now) for now in (0.0, 100.0, 200.0)] == [0.5, 0.5, 0.5]


def controller_pid(up: Up) -> int:
    """The controller's current pid: the last `restarted` line, else the first start."""
    restarted = RESTARTED.findall(up.text())
    if restarted:
        return int(restarted[-1][0])
    match = re.search(r"\[controller\] started \(pid (\d+)", up.text())
    assert match is not None, up.tail()
    return int(match.group(1))


def status_table(up: Up, data_dir: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "cli.main", "up", "status", "--data-dir", str(data_dir)],
        cwd=REPO,
        env={**os.environ, "O2_ETCD": up.etcd},
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return done.stdout


def wait_running(up: Up, run: int, *, within: float) -> dict[str, object]:
    deadline = time.monotonic() + within
    while True:
        env = running_env(up)
        status = env["status"]
        assert isinstance(status, dict)
        if status["state"] == "RUNNING" and status.get("runNumber") == run:
            return status
        assert time.monotonic() < deadline, f"not RUNNING run {run}: {status}\n{up.tail()}"
        time.sleep(0.2)


def test_controller_killed_during_start_comes_back_and_adopts_the_same_processes(
    ports: Ports, tmp_path: Path
) -> None:
    data = tmp_path / "o2"
    # back-off 0.1, 0.2, 0.4, 0.8 s (the default 0.5 s doubling is tested above): the same
    # restarts, without waiting out 7.5 s of back-off
    with o2_up(ports, data, "--restart-delay", "0.1") as up:
        up.wait_for("o2 is up:", within=UP_WITHIN)
        tasks = {n: p for n, p in up.pids().items() if n.startswith("task ")}
        assert len(tasks) == 3
        up.o2("stop", "physics-1", "--yes")
        up.o2("start", "physics-1", "--no-wait")
        up.wait_for("(START_ACTIVITY", within=30)
        os.kill(controller_pid(up), signal.SIGKILL)
        killed_at = time.monotonic()
        line = up.wait_for("[controller] restarted", within=10)
        assert time.monotonic() - killed_at < 5.0, line
        wait_running(up, 2, within=60)
        after = {n: p for n, p in up.pids().items() if n.startswith("task ")}
        assert after == tasks  # adopted, not relaunched

        for restart, delay in ((2, "0.2"), (3, "0.4"), (4, "0.8")):
            pid = controller_pid(up)
            assert procutil.start_time(pid) is not None, f"controller {pid} gone:\n{up.tail()}"
            os.kill(pid, signal.SIGKILL)
            up.wait_for(f"restarting it in {delay} s (restart {restart})", within=15)
            up.wait_for(f"; restart {restart})", within=15)
        assert up.proc.poll() is None  # o2 up kept running through all of it
        table = status_table(up, data)
        assert re.search(r"^controller\s+\d+\s+yes\s+4$", table, re.M), table
        assert json.loads((data / "up.pids").read_text())["restarts"] == {"controller": 4}
        wait_running(up, 2, within=60)
        assert interrupt(up) == 0


@pytest.mark.slow
def test_ten_restarts_in_a_row_each_come_back_running_from_confirmed_status(
    ports: Ports, tmp_path: Path
) -> None:
    data = tmp_path / "o2"
    for run in range(1, 11):
        with o2_up(ports, data, "--no-gui", "--agents", "0") as up:  # the sample needs no more
            banner = up.wait_for("o2 is up:", within=UP_WITHIN)
            # never announced from the previous run's status: each `o2 up` brings a new
            # cluster, so the environment is recovered and starts a new run first
            assert f"physics-1 RUNNING run {run}" in banner, up.tail()
            if run > 1:
                assert "lost its tasks with the previous local cluster" in up.text()
            assert interrupt(up) == 0
