"""Pilots on async nodes in the soak. The stack's epn agents (one cpu each: room for a pilot or
an environment's task, not both) are Nodes an operator switches between sync and async at
random points; every async node runs the sample pilot (`executor.pilot`) on a shared jobs
directory that the soak keeps filling. The workload's `epns` environment (reclaim: Auto) places
its `epn` role, scaled between one and all of them, on those nodes: reclaim (a pilot drained
for it) and release (after the cool-down) happen while faults land. Faults act on pilots like
on any task (task and executor kill -9 pick pilots too; the agent faults pick epn agents).

Invariants (violations go to the observer):
- no job lost or processed twice: the jobs in queue/, running/<pilot>/ and done/ always number
  what was added, no job is in two folders at once, a job done never shows up again in queue/
  or running/, and never two live processes run one job. A listing is taken twice in a row
  until both agree (the pilots rename files meanwhile) and a miscount must persist for
  SETTLE seconds: a pilot finishing a job writes done/ before it removes running/;
- an epn node never runs a pilot and environment tasks whose wants exceed its resources: per
  node, the summed cpus of the live task processes of launches Mesos placed there (lost
  launches excluded, see hack/chaos/procwatch.py) at most the node's total;
- once faults stop, every async node that is not reclaimed has its pilot Running (or is in
  back-off) within the soak's convergence bound, unless an environment's task still runs there
  (switching a node to async does not evict them; o2 reports InsufficientResources and the
  pilot starts once they are gone: the teardown's check below then covers it).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crds.errors import ConflictError, O2Error
from crds.kinds.node import Node
from crds.kinds.task import TERMINAL_PHASES
from crds.kinds.taskclass import TaskClass
from crds.kinds.workflow import Workflow
from crds.resource import Resource
from hack.chaos.observer import Observer
from hack.chaos.stack import EPN
from store.api import Store
from tests.stack import SAMPLE_TASK

JOB_SECONDS = (0.2, 2.0)
JOBS_AT_START = 30
JOBS_PER_ADD = 10
SWITCH_EVERY = (2.0, 6.0)
"""Seconds between two operator mode switches (uniform)."""
SETTLE = 2.0
"""Seconds a job miscount must last to be a violation (a pilot is between two file moves)."""
FOLDERS = ("queue", "running", "done")


def pilot_manifests(jobs: Path) -> list[Resource]:
    """The pilot TaskClass (as manifests/examples/pilot.yaml, on the soak's jobs directory),
    and the `epns` workflow: an `epn` role of `{{ epns }}` sample tasks on pool=epn, each
    wanting more than half an epn node, so that it never fits next to a pilot."""
    pilot = TaskClass.model_validate(
        {
            "kind": "TaskClass",
            "metadata": {"name": "pilot"},
            "spec": {
                "control": "process",
                "pilot": True,
                "command": {
                    "value": sys.executable,
                    "arguments": ["-m", "executor.pilot", "--jobs", str(jobs), "--grace", "1.5"],
                },
                "wants": {"cpus": 0.5, "memory": 64},
            },
        }
    )
    worker = TaskClass.model_validate(
        {
            "kind": "TaskClass",
            "metadata": {"name": "epn-worker"},
            "spec": {"command": {"value": SAMPLE_TASK}, "wants": {"cpus": 0.6, "memory": 64}},
        }
    )
    role = {
        "name": "epn",
        "task": {"class": "epn-worker"},
        "replicas": "{{ epns }}",
        "constraints": [{"attribute": "pool", "value": EPN}],
    }
    flow = Workflow.model_validate(
        {
            "kind": "Workflow",
            "metadata": {"name": "epns"},
            "spec": {"defaults": {"epns": "1"}, "roles": [role]},
        }
    )
    return [pilot, worker, flow]


def listing(jobs: Path) -> dict[str, list[str]]:
    """Job ids per folder (running/ over every pilot's folder)."""
    out: dict[str, list[str]] = {}
    for folder in FOLDERS:
        pattern = "*/*.json" if folder == "running" else "*.json"
        out[folder] = sorted(p.stem for p in (jobs / folder).glob(pattern))
    return out


def stable_listing(jobs: Path, tries: int = 5) -> dict[str, list[str]] | None:
    """A listing that two reads in a row agree on; None when the pilots kept moving files."""
    last = listing(jobs)
    for _ in range(tries):
        again = listing(jobs)
        if again == last:
            return again
        last = again
    return None


def job_processes() -> dict[str, list[int]]:
    """Job id -> pids of the live processes running it (`executor/pilot.py --run-job PATH`)."""
    found: dict[str, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if b"--run-job" in argv and argv.index(b"--run-job") + 1 < len(argv):
            job = Path(argv[argv.index(b"--run-job") + 1].decode(errors="replace")).stem
            found.setdefault(job, []).append(int(entry))
    return {job: pids for job, pids in found.items() if len(pids) > 1}


@dataclass
class Pilots:
    store: Store
    observer: Observer
    rng: random.Random
    jobs: Path
    nodes: tuple[str, ...]
    added: int = 0
    switches: int = 0
    stopping: bool = False
    done_seen: set[str] = field(default_factory=set)
    suspects: dict[str, float] = field(default_factory=dict)
    """A miscount's text -> when it was first seen (a violation once it lasts SETTLE s)."""
    flagged: set[str] = field(default_factory=set)
    wants: dict[str, float] = field(default_factory=dict)
    """Task name -> cpus it wants (kept after the Task is gone: its process may outlive it)."""
    up_after: float | None = None

    async def setup(self) -> None:
        """The classes and workflow, jobs to do, and every epn node async: the epns
        environment's first DEPLOY already needs a reclaim."""
        for obj in pilot_manifests(self.jobs):
            await self.store.create(obj)
        self.add_jobs(JOBS_AT_START)
        for node in self.nodes:
            await self.set_mode(node, "async")

    def add_jobs(self, count: int) -> None:
        queue = self.jobs / "queue"
        queue.mkdir(parents=True, exist_ok=True)
        for _ in range(count):
            job = f"job-{self.added:05d}"
            doc = {"id": job, "seconds": round(self.rng.uniform(*JOB_SECONDS), 2), "progress": 0}
            tmp = self.jobs / f".{job}.tmp"  # then renamed: a pilot never claims half a file
            tmp.write_text(json.dumps(doc))
            os.replace(tmp, queue / f"{job}.json")
            self.added += 1

    async def set_mode(self, node: str, mode: str) -> None:
        """`o2 node mode NODE MODE`, as an operator (waits for the node controller's Node)."""
        while True:
            try:
                current = await self.store.get(Node, node)
                spec = current.spec.model_copy(update={"mode": mode})
                await self.store.update(current.model_copy(update={"spec": spec}))
                return
            except ConflictError:  # a status write came between: read again
                continue
            except O2Error:  # not registered yet, or etcd faulted: try again
                await asyncio.sleep(0.5)

    async def drive(self) -> None:
        """Switch a random epn node's mode now and then, and keep the queue filled."""
        while not self.stopping:
            await asyncio.sleep(self.rng.uniform(*SWITCH_EVERY))
            node = self.rng.choice(self.nodes)
            mode = "sync" if self.mode(node) == "async" else "async"
            await self.set_mode(node, mode)
            self.switches += 1
            if len(listing(self.jobs)["queue"]) < JOBS_PER_ADD:
                self.add_jobs(JOBS_PER_ADD)

    def mode(self, node: str) -> str:
        return str(self.observer.nodes.get(node, {}).get("spec", {}).get("mode", "sync"))

    async def watch_jobs(self) -> None:
        """Check the jobs directory and the job processes until cancelled."""
        while True:
            self.check_jobs(*await asyncio.to_thread(self.sample_jobs), time.monotonic())
            await asyncio.sleep(0.5)

    def sample_jobs(self) -> tuple[dict[str, list[str]] | None, dict[str, list[int]]]:
        return stable_listing(self.jobs), job_processes()

    def check_jobs(
        self, folders: dict[str, list[str]] | None, twice: dict[str, list[int]], now: float
    ) -> None:
        problems = [f"job {j} run by two live processes {p}" for j, p in twice.items()]
        if folders is not None:
            problems += self.miscounts(folders)
            self.done_seen.update(folders["done"])
        for problem in problems:
            first = self.suspects.setdefault(problem, now)
            if now - first >= SETTLE and problem not in self.flagged:
                self.flagged.add(problem)
                self.observer.violate(problem)
        for problem in list(self.suspects):
            if problem not in problems:
                del self.suspects[problem]

    def miscounts(self, folders: dict[str, list[str]]) -> list[str]:
        out = []
        seen = [j for f in FOLDERS for j in folders[f]]
        if len(seen) != self.added:
            counts = {f: len(folders[f]) for f in FOLDERS}
            out.append(f"jobs: {len(seen)} in the folders {counts}, {self.added} added")
        twice = sorted({j for j in seen if seen.count(j) > 1})
        if twice:
            out.append(f"jobs in two folders at once: {twice[:5]}")
        again = sorted(self.done_seen & set(folders["queue"] + folders["running"]))
        if again:
            out.append(f"jobs done, then back in queue/ or running/: {again[:5]}")
        return out

    def check_resources(self, live: dict[int, str], _now: float) -> None:
        """A ProcWatch listener: per epn node, the cpus its live task processes want."""
        agents = {
            str(v["status"].get("agentId")): (n, float(v["status"]["resources"]["total"]["cpus"]))
            for n, v in self.observer.nodes.items()
            if n in self.nodes and v["status"].get("agentId") and v["status"].get("resources")
        }
        used: dict[str, list[str]] = {}
        for launch in sorted(set(live.values()) - self.observer.lost):
            placed = agents.get(self.observer.launch_agents.get(launch, ""))
            if placed is not None:
                used.setdefault(placed[0], []).append(launch)
        for node, total in agents.values():
            launches = used.get(node, [])
            cpus = sum(self.cpus(launch.rpartition(".")[0]) for launch in launches)
            problem = f"node {node}: live tasks {launches} want {cpus:g} cpus of {total:g}"
            if cpus > total + 1e-9 and problem not in self.flagged:
                self.flagged.add(problem)
                self.observer.violate(problem)

    def cpus(self, task: str) -> float:
        """The cpus Task `task` wants (remembered: its process may outlive the Task)."""
        doc = self.observer.statuses.get(f"tasks/{task}")
        if doc is not None:
            self.wants[task] = float((doc.get("spec") or {}).get("wants", {}).get("cpus", 0))
        return self.wants.get(task, 0.0)

    def pilot_up(self, node: str) -> bool:
        """Not async, reclaimed, its pilot Running, in back-off, or still running an
        environment's task (switching a node to async does not evict them: its pilot waits)."""
        view = self.observer.nodes.get(node)
        if view is None:
            return False
        status: dict[str, Any] = view["status"]
        if view["spec"].get("mode") != "async" or status.get("reclaim") or status.get("backoff"):
            return True
        task = self.observer.statuses.get(f"tasks/pilot-{node}", {})
        return task.get("phase") == "Running" or self.occupied(node)

    def occupied(self, node: str) -> bool:
        """An environment's Task placed on `node` and not ended."""
        return any(
            key.startswith("tasks/")
            and key != f"tasks/pilot-{node}"
            and doc.get("hostname") == node
            and doc.get("phase") not in TERMINAL_PHASES
            for key, doc in self.observer.statuses.items()
        )

    async def pilots_up(self, within: float, *, when: str = "after the faults") -> float | None:
        """Every async node not reclaimed has its pilot Running or is in back-off within
        `within` s (one node is switched to async first if none is); the seconds it took."""
        if not any(self.mode(n) == "async" for n in self.nodes):
            await self.set_mode(self.nodes[0], "async")
            await self.observer.wait(lambda: self.mode(self.nodes[0]) == "async", within=within)
        started = time.monotonic()
        if await self.observer.wait(lambda: all(map(self.pilot_up, self.nodes)), within=within):
            return round(time.monotonic() - started, 2)
        down = [n for n in self.nodes if not self.pilot_up(n)]
        self.observer.violate(f"async nodes without a running pilot {within:g} s {when}: {down}")
        return None

    async def drain_all(self, within: float) -> None:
        """Once the environments are gone every async node runs its pilot; then every epn
        node sync, every pilot gone, and the jobs must add up exactly."""
        await self.pilots_up(within, when="after the environments were deleted")
        for node in self.nodes:
            await self.set_mode(node, "sync")
        names = {f"pilot-{n}" for n in self.nodes}
        if not await self.observer.wait(lambda: not names & self.observer.tasks, within=within):
            self.observer.violate(f"pilots left after every node was switched to sync: {names}")
        folders = await asyncio.to_thread(stable_listing, self.jobs)
        problems = self.miscounts(folders) if folders is not None else ["jobs still moving"]
        for problem in problems:
            self.observer.violate(f"after every pilot drained: {problem}")

    def json(self) -> dict[str, Any]:
        folders = listing(self.jobs)
        return {
            "nodes": list(self.nodes),
            "modeSwitches": self.switches,
            "pilotsStarted": len(self.observer.pilot_uids),
            "drains": {reason: len(d) for reason, d in sorted(self.observer.drains.items())},
            "reclaims": len(self.observer.reclaims),
            "releases": self.observer.releases,
            "jobs": {"added": self.added, **{f: len(folders[f]) for f in FOLDERS}},
            "pilotsUpAfter": self.up_after,
        }
