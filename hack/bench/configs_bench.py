"""Configuration repository benchmark: per-task resolve + render cost, and how long a config
edit takes to mark every environment that uses it ConfigChangePending, next to the etcd floor.

`.venv/bin/python -m hack.bench.configs_bench [--etcd URL] [--tasks N] [--configs N] [--envs N]`
prints a table and writes hack/bench/results/configs_bench.json. (1) is pure Python: N tasks
each resolving one of the components through one ConfigIndex (as one plan would) and rendering
its payload, next to the same lookups done without an index. (2) runs the ComponentConfig
reconciler in an in-process manager on real etcd: after one edit, the time until the last of
`--envs` CONFIGURED environments shows ConfigChangePending=True (watched), next to the time
the same number of status writes takes at the floor's batched rate (b) and sequential rate (a).
On a shared 2-core machine the absolute numbers are noisy; compare ratios from the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from controller.configs.resolve import ConfigFunction, ConfigIndex, resolve
from controller.manager import Manager, ManagerConfig
from controller.runtime.leader import LeaderConfig
from crds.conditions import is_true
from crds.kinds.componentconfig import ComponentConfig, ComponentConfigSpec, record_version
from crds.kinds.environment import Environment, EnvironmentSpec
from crds.meta import ObjectMeta, utcnow
from hack.bench.floor import Floor, measure_floor, print_floor, write_json
from store.config import StoreConfig, open_store
from store.etcd import EtcdStore

NOW = utcnow()
RUN_TYPES = ("ANY", "PHYSICS", "TECHNICAL", "COSMICS", "SYNTHETIC")
ROLES = ("any", "readout", "flp-TPC.readout", "flp-ITS.readout")
DETECTORS = 20
"""Distinct variable sets: each task renders its component's payload for one of 20 detectors."""
PAYLOAD = "[readout]\ndetector = {{ detector }}\nrate = {{ rate }}\n" + "# padding\n" * 40


def repository(count: int) -> list[ComponentConfig]:
    """`count` recorded configs: components x run types x roles, each component with ANY/any."""
    configs = []
    slots = [(rt, role) for rt in RUN_TYPES for role in ROLES]
    for i in range(count):
        component, (run_type, role) = f"comp{i // len(slots)}", slots[i % len(slots)]
        spec = ComponentConfigSpec(
            component=component, run_type=run_type, role=role, format="ini", data=PAYLOAD
        )
        cc = ComponentConfig(metadata=ObjectMeta(name=f"c{i}"), spec=spec)
        configs.append(cc.model_copy(update={"status": record_version(cc, now=NOW)}))
    return configs


def bench_resolution(*, tasks: int, configs: int) -> dict[str, Any]:
    repo = repository(configs)
    components = sorted({cc.spec.component for cc in repo})
    detectors = [f"D{d:02d}" for d in range(DETECTORS)]
    started = time.perf_counter()
    index = ConfigIndex(repo)
    for i in range(tasks):
        variables = {"detector": detectors[i % DETECTORS], "rate": "100"}
        fn = ConfigFunction(index, run_type="PHYSICS", role="flp-TPC.readout", variables=variables)
        fn(components[i % len(components)])
    indexed = time.perf_counter() - started
    naive_count = min(tasks, 1000)
    started = time.perf_counter()
    for i in range(naive_count):
        resolve(repo, component=components[i % len(components)], run_type="PHYSICS", role="x.y")
    naive = (time.perf_counter() - started) / naive_count * tasks
    return {
        "tasks": tasks,
        "configs": configs,
        "indexed_resolve_render_s": indexed,
        "per_task_us": indexed / tasks * 1e6,
        "unindexed_resolve_only_s": naive,
    }


async def bench_marking(endpoint: str, *, envs: int) -> dict[str, Any]:
    prefix = f"/bench-configs-{secrets.token_hex(4)}"
    store = await open_store(StoreConfig(endpoints=(endpoint,), prefix=prefix))
    assert isinstance(store, EtcdStore)
    try:
        return await _marking(store, envs=envs)
    finally:
        await store.close()


async def _marking(store: EtcdStore, *, envs: int) -> dict[str, Any]:
    spec = ComponentConfigSpec(component="readout", run_type="PHYSICS", data="rate=1")
    await store.create(ComponentConfig(metadata=ObjectMeta(name="readout-physics"), spec=spec))
    for i in range(envs):
        env = await store.create(
            Environment(
                metadata=ObjectMeta(name=f"env-{i}"),
                spec=EnvironmentSpec(workflow="readout", run_type="PHYSICS"),
            )
        )
        refs = {"readout/main": "readout-physics@1"}
        status = env.status.model_copy(update={"state": "CONFIGURED", "config_versions": refs})
        await store.update_status(env.model_copy(update={"status": status}))
    config = ManagerConfig(
        identity="configs-bench",
        leader=LeaderConfig(ttl=2, renew_deadline=1.3, retry_period=0.3),
        controllers=("controller.configs.controller:ComponentConfigReconciler",),
    )
    manager = Manager(store, store, config=config)
    stop = asyncio.Event()
    runner = asyncio.create_task(manager.run(stop))
    try:
        leading = asyncio.Event()
        while not leading.is_set():
            if manager.elector.is_leader and all(c.running for c in manager.controllers):
                leading.set()
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.0)  # let the first pass (ConfigCurrent marks) settle
        listing = await store.list(Environment)
        current = await store.get(ComponentConfig, "readout-physics")
        new_spec = current.spec.model_copy(update={"data": "rate=2"})
        started = time.perf_counter()
        await store.update(current.model_copy(update={"spec": new_spec}))
        elapsed = await _until_all_pending(store, envs, listing.revision + 1, started)
    finally:
        stop.set()
        await asyncio.wait_for(runner, 15)
    return {"envs": envs, "edit_to_all_marked_s": elapsed}


async def _until_all_pending(store: EtcdStore, envs: int, revision: int, started: float) -> float:
    marked: set[str] = set()
    async with asyncio.timeout(60):
        async for event in store.watch(Environment, start_revision=revision):
            obj = event.obj
            if obj is not None and is_true(obj.status.conditions, "ConfigChangePending"):
                marked.add(event.name)
                if len(marked) == envs:
                    return time.perf_counter() - started
    raise AssertionError("watch ended")


async def bench(endpoint: str, *, tasks: int, configs: int, envs: int) -> dict[str, Any]:
    floor = await measure_floor(endpoint, quick=True)
    resolution = bench_resolution(tasks=tasks, configs=configs)
    marking = await bench_marking(endpoint, envs=envs)
    marking["floor_batched_s"] = envs / floor.txn_writes
    marking["floor_sequential_s"] = envs / floor.puts_seq
    return {"floor": asdict(floor), "resolution": resolution, "marking": marking}


def print_result(result: dict[str, Any]) -> None:
    print_floor(Floor(**result["floor"]))
    res, mark = result["resolution"], result["marking"]
    rows = [
        (
            f"resolve+render, {res['tasks']:,} tasks / {res['configs']} configs (s)",
            f"{res['indexed_resolve_render_s']:.3f}",
        ),
        ("  per task (us)", f"{res['per_task_us']:.1f}"),
        (
            "  same lookups without an index, resolve only (s)",
            f"{res['unindexed_resolve_only_s']:.3f}",
        ),
        (
            f"edit -> {mark['envs']} envs ConfigChangePending (s)",
            f"{mark['edit_to_all_marked_s']:.3f}",
        ),
        ("  floor (b), same number of writes batched (s)", f"{mark['floor_batched_s']:.3f}"),
        ("  floor (a), same number of writes sequential (s)", f"{mark['floor_sequential_s']:.3f}"),
        (
            "  ratio to floor (b) / (a)",
            f"{mark['edit_to_all_marked_s'] / mark['floor_batched_s']:.1f}x / "
            f"{mark['edit_to_all_marked_s'] / mark['floor_sequential_s']:.1f}x",
        ),
    ]
    width = max(len(label) for label, _ in rows)
    print(f"\n{'configs benchmark'.ljust(width)}  value")
    for label, value in rows:
        print(f"{label.ljust(width)}  {value:>12}")


async def _main(args: argparse.Namespace) -> dict[str, Any]:
    sizes = {"tasks": args.tasks, "configs": args.configs, "envs": args.envs}
    if args.etcd:
        return await bench(args.etcd, **sizes)
    from store.embedded import EmbeddedEtcd, free_port

    with tempfile.TemporaryDirectory(prefix="o2-configs-bench-") as tmp:
        async with EmbeddedEtcd(Path(tmp) / "etcd", free_port(), free_port()) as etcd:
            return await bench(etcd.endpoint, **sizes)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--etcd", help="use an existing etcd instead of a private one")
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--configs", type=int, default=500)
    parser.add_argument("--envs", type=int, default=200)
    args = parser.parse_args(argv)
    result = asyncio.run(_main(args))
    print_result(result)
    print(f"wrote {write_json('configs_bench', result)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
