"""Invariants read from the process table (/proc) while the soak runs.

- Never two live processes for one Task: every TASK_EVERY seconds, every live sample task (or
  sample pilot) of this soak (a grandchild of the local cluster: task <- executor <- cluster, or
  a pid a Task reported) is named by the `O2_TASK_ID` its executor gave it (`<task name>.<launch
  id>`), and two pids with one task name alive at once are a violation. o2 has no deliberate
  overlap: a Task is launched again only after its previous launch was reported terminal or
  lost, and a recreated environment's Task of the same name exists only once the old Task
  object, whose kill finalizer waits for its process, is gone. The one overlap o2's semantics
  allow is a lost one: Mesos reports the tasks of a partitioned agent TASK_LOST (o2's framework
  is not partition-aware), o2 replaces them, and when the agent returns their processes still
  run (Mesos >= 1.5 does not kill them); o2 kills such strays once it sees them (a status update
  or the executor's task table). So an overlap where every process but one belongs to a lost
  launch (its Task was marked Lost, or it ran on an agent the soak partitioned: the Task may be
  deleted on the report without a Lost status written) is allowed for STRAY_BOUND seconds; any
  other overlap, or a longer one, is a violation.
- The leading manager's resident memory (VmRSS) and open file descriptors: sampled every
  MANAGER_EVERY seconds for whichever manager leads, kept per manager process. A process's
  baseline is the highest RSS and descriptor count of its samples in the BASELINE_WINDOW
  seconds from LEADER_WARMUP seconds after it first led (informers filled, controllers
  started, the first connections to the agents and etcd made); a later sample above
  RSS_GROWTH over the baseline's RSS or FD_GROWTH descriptors over its count is a violation
  (once per process). The window, not one sample: the descriptor count swings (13 to 80 in
  one leader's life in the first 10-minute soak) as HTTP connections to agents open and
  close; a leak is growth past that plateau, which one early sample cannot tell from it. With
  pilots on the epn agents the plateau comes later and higher (60-85 descriptors in every leader
  of three 3-minute runs, against 34 at the end of a 20 s window), hence 45 s and 40 descriptors:
  a leak still grows past any fixed allowance.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hack.chaos.observer import Observer
from hack.chaos.stack import Stack

TASK_EVERY = 0.5
MANAGER_EVERY = 2.0
LEADER_WARMUP = 10.0
BASELINE_WINDOW = 45.0
RSS_GROWTH = 0.30
FD_GROWTH = 40
STRAY_BOUND = 15.0
"""Seconds a lost launch's process may run next to its Task's replacement: the soak's task
reconcile period (5 s: executors report their tables) plus the executor's kill grace, with
margin."""
TASK_ENV = b"O2_TASK_ID="
SAMPLE_TASK = b"o2-sample-task"
PILOT = b"executor.pilot"
"""A sample pilot's command line (`python -m executor.pilot`; its jobs run `executor/pilot.py`)."""


def is_task(cmdline: bytes) -> bool:
    """A sample task's or a sample pilot's command line (a pilot is a Task too)."""
    return SAMPLE_TASK in cmdline or PILOT in cmdline


def read(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return b""


def parent(pid: int) -> int:
    try:
        return int(read(f"/proc/{pid}/stat").rsplit(b")", 1)[1].split()[1])
    except (ValueError, IndexError):
        return 0


def launch_id(pid: int) -> str | None:
    """The O2_TASK_ID in the process's environment (None: not an o2 task, or gone)."""
    for entry in read(f"/proc/{pid}/environ").split(b"\0"):
        if entry.startswith(TASK_ENV):
            return entry.removeprefix(TASK_ENV).decode(errors="replace")
    return None


def task_processes(cluster_pid: int, known: set[int]) -> dict[int, str]:
    """pid -> launch id of every live sample task and pilot of this soak."""
    found: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        if not is_task(read(f"/proc/{pid}/cmdline")):
            continue
        if pid not in known and parent(parent(pid)) != cluster_pid:
            continue  # another test's sample task on this machine
        launch = launch_id(pid)
        if launch is not None:
            found[pid] = launch
    return found


def duplicates(processes: dict[int, str]) -> dict[str, tuple[tuple[int, str], ...]]:
    """Task name -> (pid, launch id) of each of its processes, for names with more than one."""
    by_name: dict[str, list[tuple[int, str]]] = {}
    for pid, launch in sorted(processes.items()):
        by_name.setdefault(launch.rpartition(".")[0] or launch, []).append((pid, launch))
    return {name: tuple(procs) for name, procs in by_name.items() if len(procs) > 1}


def usage(pid: int) -> tuple[int, int] | None:
    """(VmRSS in KiB, open file descriptors) of a live process; None when it is gone."""
    rss = None
    for line in read(f"/proc/{pid}/status").splitlines():
        if line.startswith(b"VmRSS:"):
            rss = int(line.split()[1])
    try:
        fds = len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None
    return None if rss is None else (rss, fds)


Overlap = tuple[str, tuple[tuple[int, str], ...]]
"""A task name and its live (pid, launch id) pairs."""


@dataclass
class Life:
    """One manager process's samples while it led."""

    manager: str
    pid: int
    since: float
    samples: list[tuple[float, int, int]] = field(default_factory=list)
    baseline: tuple[int, int] | None = None
    """The highest (RSS, fds) of the baseline window; None until the window has passed."""
    window: list[tuple[int, int]] = field(default_factory=list)
    flagged: bool = False

    def add(self, at: float, rss: int, fds: int) -> str | None:
        """Record a sample; the violation it shows, if any (only the first of this life)."""
        self.samples.append((at, rss, fds))
        if self.baseline is None:
            if at - self.since >= LEADER_WARMUP + BASELINE_WINDOW and self.window:
                self.baseline = (max(r for r, _ in self.window), max(f for _, f in self.window))
            elif at - self.since >= LEADER_WARMUP:
                self.window.append((rss, fds))
                return None
            else:
                return None
        base_rss, base_fds = self.baseline
        if self.flagged or (rss <= base_rss * (1 + RSS_GROWTH) and fds <= base_fds + FD_GROWTH):
            return None
        self.flagged = True
        return (
            f"leading manager {self.manager} (pid {self.pid}) grew to VmRSS {rss} KiB and "
            f"{fds} fds from {base_rss} KiB and {base_fds} fds after its warm-up"
        )

    def json(self) -> dict[str, Any]:
        def figures(i: int) -> dict[str, int]:
            values = [int(s[i]) for s in self.samples]
            return {"first": values[0], "last": values[-1], "max": max(values)}

        return {
            "manager": self.manager,
            "pid": self.pid,
            "samples": len(self.samples),
            "ledSeconds": round(self.samples[-1][0] - self.since, 1),
            "baseline": None if self.baseline is None else list(self.baseline),
            "rssKiB": figures(1),
            "fds": figures(2),
        }


@dataclass
class ProcWatch:
    stack: Stack
    observer: Observer
    lives: dict[int, Life] = field(default_factory=dict)
    task_samples: int = 0
    flagged: set[Overlap] = field(default_factory=set)
    lost_overlaps: dict[Overlap, list[float]] = field(default_factory=dict)
    """Allowed overlaps (a lost launch next to its replacement): first and last seen."""
    listeners: list[Callable[[dict[int, str], float], None]] = field(default_factory=list)
    """Other checks of each sample of the live task processes (pid -> launch id)."""

    async def tasks(self) -> None:
        """Sample the task processes until cancelled; flag each overlap once."""
        assert self.stack.cluster is not None
        cluster = self.stack.cluster.pid
        while True:
            known = set(self.observer.task_pids)
            live = await asyncio.to_thread(task_processes, cluster, known)
            self.task_samples += 1
            now = time.monotonic()
            self.check(live, now)
            for listener in self.listeners:
                listener(live, now)
            await asyncio.sleep(TASK_EVERY)

    def check(self, live: dict[int, str], now: float) -> None:
        """Flag each overlap once: at once, or past STRAY_BOUND for a lost launch's."""
        for name, procs in duplicates(live).items():
            key = (name, procs)
            if key in self.flagged:
                continue
            replacements = [launch for _, launch in procs if launch not in self.observer.lost]
            if len(replacements) <= 1:
                seen = self.lost_overlaps.setdefault(key, [now, now])
                seen[1] = now
                if now - seen[0] <= STRAY_BOUND:
                    continue
            self.flagged.add(key)
            listed = ", ".join(f"{pid} ({launch})" for pid, launch in procs)
            lost = "" if len(replacements) > 1 else f" for more than {STRAY_BOUND:g} s"
            history = "; ".join(self.observer.task_history.get(name, ()))
            self.observer.violate(
                f"task {name}: two live processes {listed}{lost} (its writes: {history})"
            )

    async def leader(self) -> None:
        """Sample the leading manager's RSS and fds until cancelled."""
        while True:
            try:
                name = await self.stack.leading_manager()
            except Exception:  # etcd is being faulted: no sample this time
                name = None
            proc = self.stack.managers.get(name or "")
            sample = None if proc is None else usage(proc.pid)
            if proc is not None and sample is not None:
                now = time.monotonic()
                life = self.lives.setdefault(proc.pid, Life(str(name), proc.pid, since=now))
                problem = life.add(now, *sample)
                if problem is not None:
                    self.observer.violate(problem)
            await asyncio.sleep(MANAGER_EVERY)

    def json(self) -> dict[str, Any]:
        return {
            "taskSamples": self.task_samples,
            "taskOverlaps": len(self.flagged),
            "lostOverlaps": len(self.lost_overlaps),
            "lostOverlapMaxSeconds": round(
                max((last - first for first, last in self.lost_overlaps.values()), default=0.0), 1
            ),
            "leaderLives": [life.json() for life in self.lives.values()],
            "bounds": {
                "strayBoundSeconds": STRAY_BOUND,
                "warmupSeconds": LEADER_WARMUP,
                "baselineWindowSeconds": BASELINE_WINDOW,
                "rssGrowth": RSS_GROWTH,
                "fdGrowth": FD_GROWTH,
            },
        }
