"""The processes of real_tasks_bench: the executors and sample tasks under the local cluster,
found in /proc by parent and command line, their CPU, and the kill of any left after the cluster
stopped (by pid and start time, never by name)."""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
from pathlib import Path

from hack.bench.environments_stack import cpu_seconds


def _parents() -> dict[int, int]:
    """pid -> parent pid of every process (from /proc/<pid>/stat; vanished ones skipped)."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(entry.name)] = int(fields[1])
    return parents


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def processes(cluster: int) -> tuple[set[int], set[int]]:
    """(executor pids, task pids) under the cluster's process (any depth)."""
    children: dict[int, list[int]] = {}
    for pid, parent in _parents().items():
        children.setdefault(parent, []).append(pid)
    executors, tasks, todo = set(), set(), list(children.get(cluster, ()))
    while todo:
        pid = todo.pop()
        line = _cmdline(pid)
        if "o2-executor" in line or "executor.main" in line:
            executors.add(pid)
        elif "o2-sample-task" in line:
            tasks.add(pid)
        todo.extend(children.get(pid, ()))
    return executors, tasks


def total_cpu(pids: set[int]) -> float:
    """User + system CPU seconds of the live processes among `pids`."""
    total = 0.0
    for pid in pids:
        try:
            total += cpu_seconds(pid)
        except (OSError, IndexError):
            continue
    return total


def started_at(pid: int) -> int | None:
    """The process's start time (clock ticks after boot): tells a pid's reuse apart."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def kill_left(seen: dict[int, int | None]) -> int:
    """SIGKILL each process seen (pid -> start time) that is still that same process (by pid
    and start time, never by name); how many were."""
    left = 0
    for pid, start in seen.items():
        if start is None or started_at(pid) != start:
            continue
        try:
            os.kill(pid, signal.SIGKILL)
            left += 1
        except ProcessLookupError:
            continue
    return left


class Seen:
    """Every executor and task process seen under the cluster (pid -> start time)."""

    def __init__(self, cluster: int) -> None:
        self.cluster = cluster
        self.pids: dict[int, int | None] = {}

    def look(self) -> tuple[set[int], set[int]]:
        executors, tasks = processes(self.cluster)
        for pid in executors | tasks:
            self.pids.setdefault(pid, started_at(pid))
        return executors, tasks


def executor_start_cpu(runs: int = 3) -> float:
    """CPU seconds an o2-executor spends importing its modules before it takes a task (median
    of `runs` children importing executor.main): every executor starts at DEPLOY, so the
    executors' DEPLOY figure holds this fixed cost once per agent, whatever N."""
    code = (
        "import resource, executor.main; r = resource.getrusage(resource.RUSAGE_SELF); "
        "print(r.ru_utime + r.ru_stime)"
    )
    samples = [
        float(
            subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, check=True
            ).stdout
        )
        for _ in range(runs)
    ]
    return statistics.median(samples)
