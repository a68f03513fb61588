"""The seeded fault schedule. random.Random(seed) picks each fault's kind and the pause before
it; the injector resolves the target at that moment (the leading manager, the etcd leader, a
live task pid, an agent) and undoes what a supervisor would (a killed manager or etcd member is
started again, a stopped manager continued, a partitioned agent restored). Kinds: kill -9 and
SIGSTOP/SIGCONT of the leading and the follower manager; kill -9 of an etcd member and of the
etcd leader, and a member stopped cleanly (SIGTERM), each restarted on its data dir; a member's
disk made slow (hack/chaos/slowdisk.py; left out, with the reason printed, where the machine
cannot throttle a disk); kill -9 of
a task process and of an executor; the local cluster's faults (hack/chaos/cluster_faults.py:
a real agent's process restarted, a real or hollow agent partitioned and restored, the
framework's subscription dropped by the master, the master process restarted). Re-running a
seed replays the same sequence of kinds and pauses; the targets depend on what is running at
that moment.

A fault's recovery time is the time from its injection to the next transition any environment
completes (the observer's clock); for a fault of the leading manager, to the first one completed
after the leader lease changed hands: how long the system made no visible progress."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
import time
from dataclasses import dataclass, field

from hack.chaos.cluster_faults import ClusterFaults
from hack.chaos.observer import Observer
from hack.chaos.procwatch import is_task
from hack.chaos.slowdisk import SlowDisk
from hack.chaos.stack import LEASE_TTL, Stack

KINDS = (
    "manager-leader-kill9",
    "manager-follower-kill9",
    "manager-leader-sigstop",
    "manager-follower-sigstop",
    "etcd-member-kill9",
    "etcd-leader-kill9",
    "etcd-member-restart",
    "etcd-member-slowdisk",
    "task-kill9",
    "executor-kill9",
    "agent-kill9",
    "agent-partition",
    "hollow-agent-partition",
    "mesos-disconnect",
    "mesos-master-restart",
)
PAUSE = 4.0
"""Most seconds between two faults (uniform from a quarter of it; `--pause`)."""
DOWN = (0.5, 3.0)
"""Seconds a killed process stays down, a stopped one stopped, an agent partitioned (uniform;
`--down` lowers the upper end)."""


@dataclass
class Fault:
    kind: str
    at: float
    target: str
    recovered_after: float | None = None


@dataclass
class Injector:
    stack: Stack
    observer: Observer
    rng: random.Random
    faults: list[Fault] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)
    started: float = 0.0
    pause: float = PAUSE
    longest: float = DOWN[1]
    """Most seconds a fault lasts (`--down`)."""
    queue: list[str] = field(default_factory=list)
    cluster: ClusterFaults = field(init=False)
    disk: SlowDisk = field(init=False)
    kinds: tuple[str, ...] = KINDS
    left_out: dict[str, str] = field(default_factory=dict)
    """Fault kinds this machine cannot inject, and why."""

    def __post_init__(self) -> None:
        self.cluster = ClusterFaults(self.stack, self.observer, self.rng)
        self.disk = SlowDisk(self.stack.etcd[0].data_dir.parent)
        why = self.disk.unavailable()
        if why is not None:
            self.left_out["etcd-member-slowdisk"] = why
            print(f"chaos: etcd-member-slowdisk left out: {why}", file=sys.stderr)
        self.kinds = tuple(k for k in KINDS if k not in self.left_out)

    async def run(self, until: float) -> None:
        """Inject faults until the monotonic time `until`; every fault is undone on return."""
        while True:
            pause = self.rng.uniform(self.pause / 4, self.pause)
            if not self.queue:  # rounds of every kind, each round in a seeded order
                self.queue = self.rng.sample(self.kinds, len(self.kinds))
            kind = self.queue.pop()
            down = self.rng.uniform(DOWN[0], max(DOWN[0], self.longest))
            if time.monotonic() + pause >= until:
                return
            await asyncio.sleep(pause)
            began = time.strftime("%H:%M:%S")  # the line is printed once the fault is undone
            target = await self.inject(kind, down)
            if target is None:
                self.skipped[kind] = self.skipped.get(kind, 0) + 1
                self.queue.insert(0, kind)  # tried again later in this round
                continue
            self.faults.append(Fault(kind, at=self.started, target=target))
            print(f"{began} chaos: {kind} {target} ({down:.1f} s)", file=sys.stderr)

    def measure(self) -> None:
        """Fill each fault's recovery time from the observer's completed transitions."""
        for fault in self.faults:
            since = fault.at
            if fault.kind.startswith("manager-leader"):  # progress needs a leader again
                since = min((t for t, _ in self.observer.leaders if t > fault.at), default=since)
            after = [t for t in self.observer.completions if t > since]
            fault.recovered_after = min(after) - fault.at if after else None

    async def inject(self, kind: str, down: float) -> str | None:
        self.started = time.monotonic()
        family, _, how = kind.rpartition("-")
        if family.startswith("manager"):
            return await self.manager(leading=family == "manager-leader", how=how, down=down)
        if how == "slowdisk":
            return await self.slow_disk(down)
        if family.startswith("etcd"):
            return await self.etcd(
                leading=family == "etcd-leader", clean=how == "restart", down=down
            )
        if family.endswith("agent"):
            return await self.cluster.agent(hollow=family == "hollow-agent", how=how, down=down)
        if family == "mesos-master":
            return await self.cluster.restart_master(down)
        if family == "mesos":
            return await self.cluster.disconnect()
        return self.task(executor=family == "executor")

    async def manager(self, *, leading: bool, how: str, down: float) -> str | None:
        leader = await self.stack.leading_manager()
        live = self.stack.live_managers()
        names = [n for n in live if (n == leader) == leading]
        if not names:
            return None
        name = self.rng.choice(sorted(names))
        proc = live[name]
        if how == "kill9":
            proc.kill9()
            await asyncio.sleep(down)
            self.stack.start_manager()  # as a supervisor would
        else:
            os.kill(proc.pid, signal.SIGSTOP)
            await asyncio.sleep(down + LEASE_TTL + 1)  # beyond the lease: the other takes over
            os.kill(proc.pid, signal.SIGCONT)
        return f"{name} pid {proc.pid}"

    async def etcd(self, *, leading: bool, clean: bool, down: float) -> str | None:
        """kill -9 of a member (or SIGTERM: `clean`), restarted on its data dir after `down`."""
        if not all(m.running() for m in self.stack.etcd):
            return None
        leader = await asyncio.to_thread(self.stack.etcd_leader)
        if leading:
            if leader is None:
                return None
            index = leader
        else:
            index = self.rng.choice([i for i in range(3) if i != leader])
        member = self.stack.etcd[index]
        pid = member.pid
        await asyncio.to_thread(member.stop_sync if clean else member.kill_sync)
        await asyncio.sleep(down)
        await self.stack.restart_member(index)
        return f"{member.name} pid {pid}"

    async def slow_disk(self, down: float) -> str | None:
        """A member's WAL writes throttled for twice `down` (a slow disk lasts longer than a
        crash does), then its disk fast again. Any member: a slow leader is the harder case."""
        live = [m for m in self.stack.etcd if m.running() and m.pid is not None]
        if not live:
            return None
        member = self.rng.choice(live)
        pid = member.pid
        assert pid is not None
        self.disk.slow(pid)
        try:
            await asyncio.sleep(2 * down)
        finally:
            self.disk.restore(pid)
            self.disk.close()
        return f"{member.name} pid {pid}"

    def task(self, *, executor: bool) -> str | None:
        """kill -9 of a live sample task (or of its executor: its parent process)."""
        live = sorted(p for p in self.observer.task_pids if task_alive(p))
        if not live:
            return None
        pid = self.rng.choice(live)
        if executor:
            pid = parent(pid)
            if pid <= 1 or b"executor" not in cmdline(pid):
                return None
        os.kill(pid, signal.SIGKILL)
        return f"pid {pid}"


def task_alive(pid: int) -> bool:
    """A live o2 sample task or sample pilot with this pid (not a reused pid of anything
    else)."""
    return is_task(cmdline(pid))


def cmdline(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read()
    except OSError:
        return b""


def parent(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return 0


def leftover_tasks(pids: set[int]) -> list[int]:
    """The soak's task and pilot processes (every pid its Tasks reported) still in the process
    table."""
    return sorted(p for p in pids if task_alive(p))
