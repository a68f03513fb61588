"""The workload: environments cycling through their states while faults land. Two run o2's
sample-like workflow with real sample tasks on the real agents; one, larger, runs on the hollow
agents and has detectors included and excluded live; with pilots (hack/chaos/pilots.py), `epns`
(reclaim: Auto) scales its role between one and every epn node, which run pilots while async.
Each cycles DEPLOYED, CONFIGURED, RUNNING, CONFIGURED and now and then exits (DONE), is deleted
and is created again. An environment seen in ERROR is recovered as an operator would
(`o2 recover`: spec.recoverRequest + 1)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
from dataclasses import dataclass, field

from crds.errors import ConflictError, NotFoundError
from crds.kinds.environment import Environment
from crds.kinds.taskclass import TaskClass
from crds.kinds.workflow import Workflow
from crds.resource import Resource
from hack.bench.environments_shape import manifests
from hack.chaos.observer import Observer
from hack.chaos.sources import CONFIG
from store.api import Store
from tests.stack import SAMPLE_TASK

CYCLE = ("DEPLOYED", "CONFIGURED", "RUNNING", "CONFIGURED", "RUNNING")
STEP_WITHIN = 90.0
"""Seconds one step may take under faults before the workload moves on (counted as slow)."""


def sample_manifests() -> list[Resource]:
    """A sample-like workflow: a readout and an stfb role, two replicas each, on pool=real;
    each task receives the ComponentConfig the soak edits (hack/chaos/sources.py) at
    CONFIGURE."""
    cls = TaskClass.model_validate(
        {
            "kind": "TaskClass",
            "metadata": {"name": "sample"},
            "spec": {
                "command": {"value": SAMPLE_TASK, "arguments": ["--detector", "chaos"]},
                "wants": {"cpus": 0.05, "memory": 32},
                "properties": {"config": f'{{{{ config("{CONFIG}") }}}}'},
            },
        }
    )
    where = [{"attribute": "pool", "value": "real"}]
    roles = [
        {"name": r, "task": {"class": "sample"}, "replicas": "2", "constraints": where}
        for r in ("readout", "stfb")
    ]
    flow = Workflow.model_validate(
        {"kind": "Workflow", "metadata": {"name": "sample"}, "spec": {"roles": roles}}
    )
    classes, bench, _ = manifests(100)
    return [cls, flow, *classes, bench]


def environment(
    name: str, workflow: str, detectors: list[str] | None = None, *, reclaim: str = "Manual"
) -> Environment:
    env_vars = {} if detectors is None else {"detectors": json.dumps(detectors), "replicas": "1"}
    spec = {"workflow": workflow, "state": "DEPLOYED", "vars": env_vars, "reclaim": reclaim}
    return Environment.model_validate(
        {"kind": "Environment", "metadata": {"name": name}, "spec": spec}
    )


@dataclass
class Workload:
    store: Store
    observer: Observer
    rng: random.Random
    hollow: int
    steps: int = 0
    slow_steps: int = 0
    recoveries: int = 0
    recreations: int = 0
    detector_changes: int = 0
    scalings: int = 0
    epn_nodes: int = 0
    stopping: bool = False
    specs: dict[str, Environment] = field(default_factory=dict)

    def plan(self, real_envs: int, epn_nodes: int = 0) -> None:
        for i in range(real_envs):
            self.specs[f"sample-{i}"] = environment(f"sample-{i}", "sample")
        self.epn_nodes = epn_nodes
        if epn_nodes:
            self.specs["epns"] = environment("epns", "epns", reclaim="Auto")
        self.specs["hollow"] = environment("hollow", "bench", self.detectors(self.hollow))

    def detectors(self, count: int) -> list[str]:
        return [f"h{i:02d}" for i in range(count)]

    async def setup(self) -> None:
        for obj in sample_manifests():
            await self.store.create(obj)
        for env in self.specs.values():
            await self.store.create(env)

    async def drive(self, name: str) -> None:
        """Cycle `name` until `stopping`; each step waits (bounded) for the state it asked."""
        position = 0
        while not self.stopping:
            if position and position % len(CYCLE) == 0 and self.rng.random() < 0.5:
                await self.recreate(name)
            target = CYCLE[position % len(CYCLE)]
            position += 1
            if name == "hollow" and target == "RUNNING" and self.rng.random() < 0.6:
                await self.change_detectors()
            if name == "epns" and target == "RUNNING" and self.rng.random() < 0.6:
                await self.scale_epns()
            await self.set_state(name, target)
            await self.reach(name, STEP_WITHIN)

    async def reach(self, name: str, within: float) -> bool:
        """Until `name` settles in its desired state, recovering it from ERROR on the way."""

        def done() -> bool:
            view = self.observer.envs.get(name)
            return view is not None and (view.settled or view.state == "ERROR")

        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        # the deadline holds also for an environment that keeps going back to ERROR (wait()
        # answers a check that holds at once, whatever time is left)
        while loop.time() < deadline and await self.observer.wait(
            done, within=deadline - loop.time()
        ):
            view = self.observer.envs[name]
            if view.settled:
                self.steps += 1
                return True
            await self.recover(name)
            await self.observer.wait(lambda: self.observer.envs[name].state != "ERROR", within=10)
        self.slow_steps += 1
        return False

    async def modify(self, name: str, **spec: object) -> None:
        """Write `spec` changes, then wait until the observer has seen the write: a step that
        checked the observer's view before would take the old desired state as reached."""
        while True:
            try:
                env = await self.store.get(Environment, name)
                new = env.spec.model_copy(update=spec)
                written = await self.store.update(env.model_copy(update={"spec": new}))
                break
            except ConflictError:
                continue
        revision = written.metadata.resource_version or 0
        await self.observer.wait(lambda: self.observer.seen(name) >= revision, within=STEP_WITHIN)

    async def set_state(self, name: str, state: str) -> None:
        await self.modify(name, state=state)

    async def recover(self, name: str) -> None:
        self.recoveries += 1
        env = await self.store.get(Environment, name)
        await self.modify(name, recover_request=env.spec.recover_request + 1)

    async def change_detectors(self) -> None:
        """Include or exclude a few detectors of the hollow environment, live."""
        count = self.rng.randrange(max(1, self.hollow // 2), self.hollow + 1)
        self.detector_changes += 1
        env = await self.store.get(Environment, "hollow")
        env_vars = {**env.spec.vars, "detectors": json.dumps(self.detectors(count))}
        await self.modify("hollow", vars=env_vars)

    async def scale_epns(self) -> None:
        """Scale the epns role to a random number of epn nodes, live: up reclaims async nodes,
        down releases them after the cool-down."""
        self.scalings += 1
        count = self.rng.randint(1, self.epn_nodes)
        env = await self.store.get(Environment, "epns")
        await self.modify("epns", vars={**env.spec.vars, "epns": str(count)})

    async def recreate(self, name: str, *, exit_first: bool = True) -> None:
        """Exit (DONE), delete, create again: the next incarnation gets new run numbers."""
        if exit_first:
            await self.set_state(name, "DONE")
            await self.reach(name, STEP_WITHIN)
        with contextlib.suppress(NotFoundError):
            await self.store.delete(Environment, name)
        await self.observer.wait(lambda: name not in self.observer.envs, within=STEP_WITHIN)
        await self.store.create(self.specs[name])
        await self.observer.wait(lambda: name in self.observer.envs, within=STEP_WITHIN)
        self.recreations += 1

    async def settle(self, state: str, within: float) -> float | None:
        """Ask every environment for `state`; seconds until all were settled there at once."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        for name in self.specs:
            view = self.observer.envs.get(name)
            if view is None or view.desired == "DONE":  # left mid-exit by a cancelled driver
                await self.recreate(name, exit_first=False)
            await self.set_state(name, state)
        results = await asyncio.gather(*(self.reach(n, within) for n in self.specs))
        return loop.time() - started if all(results) else None
