"""`o2 up` end to end, as a user runs it: real etcd, local cluster, controller manager, executors
and sample-task processes; the sample environment reaches RUNNING, Ctrl-C leaves nothing
running, and a second `o2 up` on the same data dir brings the environment back to RUNNING."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import procutil
from tests.stack import port_slice

REPO = Path(__file__).resolve().parents[2]
UP_WITHIN = 120.0
STOP_WITHIN = 60.0
PID_LINE = (
    r"\[(etcd|cluster|controller|gui)\] (?:ready|master ready|started|dashboard)\b.*?\(pid (\d+)"
)


@dataclass
class Up:
    """A running `o2 up` with its stdout lines, read by a thread as they come."""

    proc: subprocess.Popen[str]
    etcd: str
    mesos: str
    lines: queue.Queue[str | None] = field(default_factory=queue.Queue)
    seen: list[str] = field(default_factory=list)

    def wait_for(self, text: str, *, within: float) -> str:
        """The first line containing `text` (blocking reads of the pipe, bounded)."""
        for line in self.seen:
            if text in line:
                return line
        deadline = time.monotonic() + within
        while True:
            try:
                got = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no {text!r} within {within}s:\n" + self.tail()) from None
            if got is None:
                raise AssertionError(f"o2 up ended before {text!r}:\n" + self.tail())
            self.seen.append(got)
            if text in got:
                return got

    def tail(self) -> str:
        return "\n".join(self.seen[-40:])

    def o2(self, *args: str) -> str:
        env = {**os.environ, "O2_ETCD": self.etcd}
        done = subprocess.run(
            [sys.executable, "-m", "cli.main", *args],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,  # a failure is reported below with its output
        )
        assert done.returncode == 0, (
            f"o2 {' '.join(args)}: exit {done.returncode}\n{done.stdout}{done.stderr}"
        )
        return done.stdout

    def pids(self) -> dict[str, int]:
        """Every process this `o2 up` runs: its children, the executors and the tasks."""
        found = {name: int(pid) for name, pid in re.findall(PID_LINE, self.text())}
        with urllib.request.urlopen(f"http://{self.mesos}/localmesos/state", timeout=10) as resp:
            state = json.load(resp)
        for agent in state["agents"]:
            for executor in agent.get("executors", []):
                if executor.get("pid"):
                    found[f"executor {executor['executor_id']}@{agent['hostname']}"] = executor[
                        "pid"
                    ]
        for task in json.loads(self.o2("get", "tasks", "-o", "json"))["items"]:
            found[f"task {task['metadata']['name']}"] = task["status"]["pid"]
        return found

    def text(self) -> str:
        return "\n".join(self.seen)


def _pump(stream: object, lines: queue.Queue[str | None]) -> None:
    assert hasattr(stream, "readline")
    for line in iter(stream.readline, ""):
        lines.put(line.rstrip("\n"))
    lines.put(None)


@dataclass(frozen=True)
class Ports:
    etcd: int
    peer: int
    mesos: int
    gui: int
    tasks: int


REUSED_PORTS = range(10000, 15000)
"""Ports an `o2 up` test keeps across restarts of `o2 up` (etcd, its peer, the master, the
GUI): below the agents' slices and the ephemeral range free_port() draws from, so another
test process cannot take one while `o2 up` is down between two runs (ten restarts in a row
once lost its etcd port that way). Each test process draws from its own share."""


def _worker() -> tuple[int, int]:
    name = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
    return (int(name[2:]) if name.startswith("gw") else 0), max(1, count)


def reusable_port(taken: set[int]) -> int:
    """A port of this test process's share of REUSED_PORTS that is free now."""
    index, count = _worker()
    share = len(REUSED_PORTS) // count
    first = REUSED_PORTS.start + index * share
    for _ in range(200):
        port = random.randrange(first, first + share)
        if port in taken:
            continue
        with contextlib.suppress(OSError), socket.socket() as sock:
            sock.bind(("127.0.0.1", port))
            taken.add(port)
            return port
    raise AssertionError("no free port in this test process's share of REUSED_PORTS")


@pytest.fixture
def ports() -> Ports:
    # Agents share 127.0.0.1: a random 300-port slice of this test process's share
    # (tests.stack.port_slice) keeps the task ports apart from other processes' clusters and,
    # being random, from the processes of this process's previous test still going away.
    tasks = port_slice(300)
    taken: set[int] = set()
    return Ports(*(reusable_port(taken) for _ in range(4)), tasks)


@contextmanager
def o2_up(ports: Ports, data_dir: Path, *extra: str) -> Iterator[Up]:
    argv = [sys.executable, "-m", "cli.main", "up", "--data-dir", str(data_dir), "--fast", *extra]
    argv += ["--etcd-port", str(ports.etcd), "--etcd-peer-port", str(ports.peer)]
    argv += ["--mesos-port", str(ports.mesos), "--task-ports", str(ports.tasks)]
    argv += ["--gui-port", str(ports.gui)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        argv, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    up = Up(proc=proc, etcd=f"http://127.0.0.1:{ports.etcd}", mesos=f"127.0.0.1:{ports.mesos}")
    reader = threading.Thread(target=_pump, args=(proc.stdout, up.lines), daemon=True)
    reader.start()
    try:
        yield up
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=STOP_WITHIN)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        reader.join(timeout=10)
        assert proc.stdout is not None
        proc.stdout.close()


def gone(pid: int) -> bool:
    """Exited (a zombie not yet reaped by its parent counts as gone: it runs nothing)."""
    return procutil.start_time(pid) is None


def running_env(up: Up) -> dict[str, object]:
    env: dict[str, object] = json.loads(up.o2("get", "env", "physics-1", "-o", "json"))
    return env


def interrupt(up: Up) -> int:
    """Ctrl-C, as a terminal sends it; the exit code."""
    up.proc.send_signal(signal.SIGINT)
    code = up.proc.wait(timeout=STOP_WITHIN)
    up.wait_for("[o2] stopped etcd", within=10)
    return code


def first_up_runs_physics_1(up: Up) -> dict[str, int]:
    """The first `o2 up` of a data dir: physics-1 RUNNING run 1 with every process; its pids."""
    banner = up.wait_for("o2 is up:", within=UP_WITHIN)
    assert "physics-1 RUNNING run 1" in banner
    status = running_env(up)["status"]
    assert isinstance(status, dict)
    assert status["state"] == "RUNNING" and status["runNumber"] == 1
    up.wait_for("Ctrl-C stops everything", within=10)
    assert f"--endpoints={up.etcd} watch --prefix /o2/registry/" in up.text()
    pids = up.pids()
    tasks = [name for name in pids if name.startswith("task ")]
    assert len(tasks) == 3 and all(pids[name] for name in tasks)
    assert {"etcd", "cluster", "controller", "gui"} <= set(pids)
    assert any(name.startswith("executor ") for name in pids)
    return pids


def test_up_brings_physics_1_to_running_ctrl_c_leaves_nothing_and_a_second_up_relaunches_it(
    ports: Ports, tmp_path: Path
) -> None:
    # one scenario: the second `o2 up` needs the first one's data dir and its lost tasks
    with o2_up(ports, tmp_path / "o2") as first:
        before = first_up_runs_physics_1(first)
        assert interrupt(first) == 0
    left = {name: pid for name, pid in before.items() if not gone(pid)}
    assert not left, f"still running after Ctrl-C: {left}"
    assert (tmp_path / "o2" / "etcd").is_dir()
    stops = re.findall(r"\[o2\] stopped (\w+)", first.text())
    assert stops == ["gui", "controller", "cluster", "etcd"]

    with o2_up(ports, tmp_path / "o2") as second:
        second.wait_for("lost its tasks with the previous local cluster", within=UP_WITHIN)
        banner = second.wait_for("o2 is up:", within=UP_WITHIN)
        assert "physics-1 RUNNING run 2" in banner
        after = second.pids()
        assert all(after[name] != before[name] for name in before if name.startswith("task "))
        assert interrupt(second) == 0
    assert all(gone(pid) for pid in after.values())


def exits_within(pid: int, within: float) -> bool:
    """Whether `pid` exits within `within` seconds: a pidfd, no polling."""
    return procutil.exits_within(pid, within) or gone(pid)


def test_killed_up_takes_its_children_and_its_etcd_along(ports: Ports, tmp_path: Path) -> None:
    with o2_up(ports, tmp_path / "o2", "--no-samples") as first:
        first.wait_for("[o2] up:", within=UP_WITHIN)
        left = first.pids()
        first.proc.kill()  # SIGKILL: no chance to stop anything itself
        first.proc.wait(timeout=10)
    try:
        assert {"etcd", "cluster", "controller", "gui"} <= set(left)
        for name in ("etcd", "gui", "controller", "cluster"):  # their parent-death signal
            assert exits_within(left[name], STOP_WITHIN), f"{name} outlived o2 up"
        with o2_up(ports, tmp_path / "o2", "--no-samples") as second:  # same ports, same data
            second.wait_for("[o2] up:", within=UP_WITHIN)
            assert interrupt(second) == 0
    finally:
        for pid in left.values():
            if not gone(pid):
                os.kill(pid, signal.SIGKILL)


def test_keep_tasks_adopts_the_same_processes_and_never_announces_those_killed_meanwhile(
    ports: Ports, tmp_path: Path
) -> None:
    kept: dict[str, int] = {}
    starts: dict[str, int | None] = {}
    lean = ("--no-gui", "--agents", "0")  # the sample needs neither
    try:
        with o2_up(ports, tmp_path / "o2", "--keep-tasks", *lean) as first:
            first.wait_for("physics-1 RUNNING run 1", within=UP_WITHIN)
            before = first.pids()
            kept = {n: p for n, p in before.items() if n.startswith(("task ", "executor "))}
            starts = {name: procutil.start_time(pid) for name, pid in kept.items()}
            assert interrupt(first) == 0
            first.wait_for("executors left running", within=10)
            first.wait_for("they wait 15 minutes", within=10)
        for name in ("etcd", "controller", "cluster"):
            assert gone(before[name]), f"{name} still runs after Ctrl-C"
        assert len(kept) >= 4 and all(starts.values()), f"not running: {starts}"
        left = {name: procutil.start_time(pid) for name, pid in kept.items()}
        assert left == starts, f"not left running: {left} (before the stop: {starts})"
        with o2_up(ports, tmp_path / "o2", "--keep-tasks", *lean) as second:
            second.wait_for("adopting the executors and tasks", within=UP_WITHIN)
            assert "physics-1 RUNNING run 1" in second.wait_for("o2 is up:", within=UP_WITHIN)
            # the new controller drives the very same processes: a STOP and START go through
            second.o2("stop", "physics-1", "--yes", "--timeout", "25s")  # waits until done
            second.o2("start", "physics-1", "--timeout", "25s")
            status = running_env(second)["status"]
            assert isinstance(status, dict)
            assert (status["state"], status["runNumber"]) == ("RUNNING", 2)
            after = second.pids()
            assert {n: p for n, p in after.items() if n in kept} == kept
            assert {n: procutil.start_time(p) for n, p in kept.items()} == starts
            assert interrupt(second) == 0
            second.wait_for("they wait 15 minutes", within=10)
        third = kill_kept_tasks_then_up_again(ports, tmp_path / "o2", kept, lean=lean)
        assert all(gone(pid) for pid in third.values())
    finally:
        for name, pid in kept.items():  # by pid, only while it names the process we saw
            if procutil.start_time(pid) is not None and procutil.start_time(pid) == starts[name]:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


def kill_kept_tasks_then_up_again(
    ports: Ports, data_dir: Path, kept: dict[str, int], *, lean: tuple[str, ...]
) -> dict[str, int]:
    """Kill the kept tasks by pid while o2 is down (their executors live on): the next `o2 up`
    must report the loss and recover (run 3), never announce the old run 2 that etcd still
    holds. Every process of that `o2 up`, which it has stopped when this returns."""
    tasks = {name: pid for name, pid in kept.items() if name.startswith("task ")}
    assert tasks
    for pid in tasks.values():
        os.kill(pid, signal.SIGKILL)
    assert all(exits_within(pid, 10) for pid in tasks.values())
    with o2_up(ports, data_dir, *lean) as up:
        up.wait_for("adopting the executors and tasks", within=UP_WITHIN)
        banner = up.wait_for("o2 is up:", within=UP_WITHIN)
        assert "physics-1 RUNNING run 3" in banner, up.tail()
        lines = up.text()
        assert lines.index("lost its tasks while o2 was down") < lines.index("o2 is up:")
        after = up.pids()
        assert all(after[name] != pid for name, pid in tasks.items())
        assert interrupt(up) == 0
    return after
