"""The independent observer: one raw etcd watch on the registry from revision 1 (no o2 informer,
no decoding into o2's models), checking the invariants as every event arrives:

- resourceVersion (the key's mod revision) strictly increasing per key;
- run numbers strictly increasing per environment and never shown by two environments (or by
  two incarnations of one name);
- status.observedGeneration never going back while a key lives.

It also keeps what the workload and the report need: each environment's desired and observed
state, the time of every completed transition, and every task pid ever reported."""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from crds.labels import PILOT_LABEL
from store.api import Store
from store.codec import lease_key

MANAGER_LEASE = "controller-manager"

REGISTRY = "/registry/"
HISTORY = 12


@dataclass
class EnvView:
    desired: str = ""
    uid: str = ""
    revision: int = 0
    state: str = ""
    transition: bool = False
    generation: int = 0
    observed: int = 0

    @property
    def settled(self) -> bool:
        return (
            self.state == self.desired and not self.transition and self.observed >= self.generation
        )


@dataclass
class Observer:
    store: Store
    prefix: str
    violations: list[str] = field(default_factory=list)
    envs: dict[str, EnvView] = field(default_factory=dict)
    completions: list[float] = field(default_factory=list)
    task_pids: set[int] = field(default_factory=set)
    tasks: set[str] = field(default_factory=set)
    task_owners: dict[str, set[str]] = field(default_factory=dict)
    """Task name -> the uids of its owning environments (a pilot's owner is its Node)."""
    statuses: dict[str, dict[str, Any]] = field(default_factory=dict)
    """`kind/name` -> the last status seen of each live environment and task (for a stall)."""
    task_history: dict[str, deque[str]] = field(default_factory=dict)
    """Task name -> its last HISTORY writes (revision, phase, launch, deleting), as evidence
    when an invariant about it breaks."""
    launch_agents: dict[str, str] = field(default_factory=dict)
    """Mesos task id -> agent id of every launch seen."""
    lost: set[str] = field(default_factory=set)
    """Mesos task ids of launches Mesos reported lost (the process may still run): their Task
    was marked Lost, or their agent was partitioned (the Task may be deleted on the report
    without a Lost status ever written)."""
    leaders: list[tuple[float, str | None]] = field(default_factory=list)
    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Node name -> its last spec and status seen."""
    drains: dict[str, set[tuple[str, str]]] = field(default_factory=dict)
    """Drain reason -> the (pilot, startedAt) of every pilot drain seen."""
    reclaims: set[tuple[str, str, str]] = field(default_factory=set)
    """(node, environment, requestedAt) of every reclaim that reached phase Reclaimed."""
    releases: int = 0
    """Reclaims that ended with the node still async (released after the cool-down)."""
    pilot_uids: set[str] = field(default_factory=set)
    """The uid of every pilot Task seen."""
    events: int = 0
    revisions: dict[str, int] = field(default_factory=dict)
    run_owner: dict[int, str] = field(default_factory=dict)
    last_run: dict[str, int] = field(default_factory=dict)
    lives: dict[str, int] = field(default_factory=dict)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def leases(self) -> None:
        """Every change of the leader lease key's holder, with the observer's time."""
        key = lease_key(self.prefix, MANAGER_LEASE)
        async for _, raw, _ in self.store.watch_raw(key, start_revision=1):  # type: ignore[attr-defined]
            holder = None if raw is None else raw.value.decode()
            if not self.leaders or self.leaders[-1][1] != holder:
                self.leaders.append((time.monotonic(), holder))

    async def run(self) -> None:
        root = f"{self.prefix}{REGISTRY}"
        stream = self.store.watch_raw(root, start_revision=1, prefix=True)  # type: ignore[attr-defined]
        async for key, raw, revision in stream:
            self.events += 1
            self._revision(key, revision)
            kind, _, name = key.removeprefix(root).partition("/")
            doc = None if raw is None else json.loads(raw.value)
            self._status(kind, name, doc)
            if kind == "environments":
                self._environment(name, doc, revision)
            elif kind == "tasks":
                self._task(name, doc, revision)
            elif kind == "nodes":
                self._node(name, doc)
            self.changed.set()
            self.changed = asyncio.Event()

    def _task(self, name: str, doc: dict[str, Any] | None, revision: int) -> None:
        history = self.task_history.setdefault(name, deque(maxlen=HISTORY))
        if doc is None:
            self.tasks.discard(name)
            self.task_owners.pop(name, None)
            history.append(f"r{revision} deleted")
            return
        self.tasks.add(name)
        meta, status = doc.get("metadata", {}), doc.get("status", {})
        owners = meta.get("ownerReferences", [])
        self.task_owners[name] = {
            o.get("uid", "") for o in owners if o.get("kind") == "Environment"
        }
        if PILOT_LABEL in meta.get("labels", {}):
            self.pilot_uids.add(str(meta.get("uid")))
        if isinstance(status.get("pid"), int):
            self.task_pids.add(status["pid"])
        launch = str(status.get("mesosTaskId") or "")
        if launch and status.get("agentId"):
            self.launch_agents[launch] = str(status["agentId"])
        if launch and status.get("phase") == "Lost":
            self.lost.add(launch)
        deleting = " deleting" if meta.get("deletionTimestamp") else ""
        history.append(f"r{revision} {status.get('phase')} {launch or '-'}{deleting}")

    def _node(self, name: str, doc: dict[str, Any] | None) -> None:
        """Keep the node's last view; count its pilot drains, reclaims and releases."""
        before = self.nodes.pop(name, {}).get("status", {})
        if doc is None:
            return
        status = doc.get("status", {})
        self.nodes[name] = {"spec": doc.get("spec", {}), "status": status}
        drain = status.get("drain") or {}
        if drain.get("pilot"):
            key = (str(drain["pilot"]), str(drain.get("startedAt")))
            self.drains.setdefault(str(drain.get("reason")), set()).add(key)
        reclaim = status.get("reclaim") or {}
        if reclaim.get("phase") == "Reclaimed":
            self.reclaims.add(
                (name, str(reclaim.get("environment")), str(reclaim.get("requestedAt")))
            )
        if (
            before.get("reclaim")
            and not status.get("reclaim")
            and self.nodes[name]["spec"].get("mode") == "async"
        ):  # not an operator's switch to sync, which ends a reclaim too
            self.releases += 1

    def _status(self, kind: str, name: str, doc: dict[str, Any] | None) -> None:
        if kind not in ("environments", "tasks"):
            return
        if doc is None:
            self.statuses.pop(f"{kind}/{name}", None)
        else:
            self.statuses[f"{kind}/{name}"] = {"spec": doc.get("spec"), **doc.get("status", {})}

    def stalled(self) -> dict[str, Any]:
        """The environments not settled, with the last spec and status seen of each and of
        its tasks: what a stall looked like from etcd."""
        names = [n for n, v in self.envs.items() if not v.settled]
        return {
            key: value
            for key, value in self.statuses.items()
            if any(key == f"environments/{n}" or key.startswith(f"tasks/{n}-") for n in names)
        }

    def agent_partitioned(self, agent: str) -> None:
        """Every launch seen on `agent` is lost to Mesos from now on."""
        self.lost.update(m for m, a in self.launch_agents.items() if a == agent)

    def violate(self, what: str) -> None:
        self.violations.append(f"{time.strftime('%H:%M:%S')} {what}")

    def _revision(self, key: str, revision: int) -> None:
        last = self.revisions.get(key, 0)
        if revision <= last:
            self.violate(f"{key}: resourceVersion {revision} after {last}")
        self.revisions[key] = revision

    def seen(self, name: str) -> int:
        """The revision of the last write of environment `name` observed (0: none)."""
        view = self.envs.get(name)
        return view.revision if view is not None else 0

    def orphans(self) -> list[str]:
        """Tasks owned only by environments that no longer exist (a deleted incarnation's,
        which the garbage collector must remove)."""
        live = {v.uid for v in self.envs.values()}
        return sorted(n for n, owners in self.task_owners.items() if owners and not owners & live)

    def _environment(self, name: str, doc: dict[str, Any] | None, revision: int) -> None:
        if doc is None:
            self.envs.pop(name, None)
            self.lives[name] = self.lives.get(name, 0) + 1
            return
        view = self.envs.setdefault(name, EnvView())
        view.revision = revision
        view.uid = str(doc.get("metadata", {}).get("uid", ""))
        spec, status = doc.get("spec", {}), doc.get("status", {})
        was_settled = view.settled
        observed = int(status.get("observedGeneration", 0))
        if observed < view.observed:
            self.violate(f"environment/{name}: observedGeneration {observed} after {view.observed}")
        view.observed = observed
        view.generation = int(doc.get("metadata", {}).get("generation", 0))
        view.desired = spec.get("state", "STANDBY")
        view.state = status.get("state", "STANDBY")
        view.transition = status.get("transition") is not None
        run = status.get("runNumber")
        if isinstance(run, int):
            self._run_number(name, run)
        if view.settled and not was_settled:
            self.completions.append(time.monotonic())

    def _run_number(self, name: str, run: int) -> None:
        life = f"{name}#{self.lives.get(name, 0)}"  # a recreated environment is another owner
        owner = self.run_owner.setdefault(run, life)
        last = self.last_run.get(life, 0)
        if owner != life:
            self.violate(f"run {run} shown by environment/{life}, already used by {owner}")
        elif run < last:
            self.violate(f"environment/{life}: run {run} after run {last}")
        self.last_run[life] = max(last, run)

    def describe(self) -> str:
        """Each environment as `name: state (desired)`, for progress lines."""
        return ", ".join(
            f"{n}: {v.state}{'*' if v.transition else ''} ({v.desired})"
            for n, v in sorted(self.envs.items())
        )

    async def wait(self, check: Any, *, within: float) -> bool:
        """Until `check()` is true (re-evaluated at each watch event); False after `within` s."""
        deadline = time.monotonic() + within
        while not check():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            try:
                # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancellation
                # that lands as the event is set, and the soak then hung cancelling a driver
                async with asyncio.timeout(min(left, 1.0)):
                    await self.changed.wait()
            except TimeoutError:
                continue
        return True
