"""Leader failover with N running tasks: how long after a kill -9 of the leading manager does
the standby act, and is any task restarted?

    .venv/bin/python -m hack.bench.failover_bench [--tasks 1000] [--trials 3] [--lease-ttl 2]

The real stack: a private etcd, the local cluster with 50 hollow agents (the environment
bench's shape, hack.bench.environments_shape.manifests), and two controller managers (task and
environment controllers) with the given leader lease TTL. One environment of N tasks is brought
to RUNNING. Each trial kills the leader with SIGKILL and, in the same instant, asks the
environment for the other steady state (RUNNING <-> CONFIGURED): a change only a live leader
can act on. From a raw watch of the store it times, from the kill:
- lease: the standby holds the leader lease (bounded below by the TTL: the dead leader's lease
  must expire first);
- first reconcile: the environment's status shows the new leader's first step (the transition
  started);
- settled: the environment is in the asked state, no transition in progress;
and checks that every task kept its Mesos task id and pid (0 restarted). The killed manager is
started again as the next trial's standby. Prints a table, writes
hack/bench/results/failover_bench.json.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from crds.kinds.environment import Environment
from crds.kinds.task import Task
from hack.bench.environments_shape import CONTROLLERS, _agents_file, manifests
from hack.bench.floor import write_json
from hack.bench.stack import LOG_LEVEL, start_localmesos, wait_subscribed
from store.api import Store
from store.codec import lease_key

Json = dict[str, Any]
MANAGER_LEASE = "controller-manager"


async def _main(args: argparse.Namespace, work: Path) -> Json:
    from store.config import StoreConfig, open_store
    from store.embedded import EmbeddedEtcd, free_port
    from tests.stack import ManagerProcess, manager_command, stop_by_pid

    prefix = "/o2bench-failover"
    async with EmbeddedEtcd(
        work / "etcd", free_port(), free_port(), extra_args=("--unsafe-no-fsync",)
    ) as etcd:
        mesos, address = await start_localmesos(work, "--agents-file", str(_agents_file(work)))
        managers: list[Any] = []

        def start(identity: str) -> Any:
            command = manager_command(
                etcd=etcd.endpoint,
                prefix=prefix,
                mesos=address,
                controllers=CONTROLLERS,
                lease_ttl=args.lease_ttl,
                extra_args=("--id", identity, "--log-level", LOG_LEVEL),
            )
            manager = ManagerProcess(command, log_path=work / f"{identity}.log")
            managers.append(manager)
            return manager

        store = await open_store(StoreConfig(endpoints=(etcd.endpoint,), prefix=prefix))
        try:
            by_id = {"m0": start("m0")}
            await wait_subscribed(store)
            by_id["m1"] = start("m1")
            name = await _running_environment(store, args.tasks)
            trials = []
            for trial in range(args.trials):
                holder = await _holder(store, lease_key(prefix, MANAGER_LEASE))
                target = "CONFIGURED" if trial % 2 == 0 else "RUNNING"
                row = await _trial(store, by_id[holder], holder, name, target, prefix=prefix)
                row["killed"] = holder
                trials.append(row)
                print(_row(trial, row), flush=True)
                standby = f"m{trial + 2}"
                by_id[standby] = start(standby)  # the next trial's standby
                await asyncio.sleep(args.lease_ttl + 2)  # it lists and stands by
        finally:
            await store.close()
            for manager in managers:
                stop_by_pid(manager.proc)
            stop_by_pid(mesos)
    return {
        "tasks": args.tasks,
        "lease_ttl_seconds": args.lease_ttl,
        "trials": trials,
        "summary": _summary(trials),
        "load_average": list(os.getloadavg()),
    }


async def _running_environment(store: Store, size: int) -> str:
    classes, workflow, env = manifests(size)
    for obj in (*classes, workflow):
        await store.create(obj)
    await asyncio.sleep(1.0)  # the managers' caches take them in
    spec = env.spec.model_copy(update={"state": "RUNNING"})
    await store.create(env.model_copy(update={"spec": spec}))
    await _settled(store, env.name, "RUNNING", within=120 + size * 0.05)
    return env.name


async def _trial(
    store: Store, leader: Any, identity: str, name: str, target: str, *, prefix: str
) -> Json:
    before = await _task_identities(store)
    revision = (await store.list(Environment)).revision
    lease_at = asyncio.create_task(
        _lease_taken(store, lease_key(prefix, MANAGER_LEASE), revision, identity)
    )
    progress = asyncio.create_task(_progress(store, name, target, revision, within=120))
    await asyncio.sleep(0.5)  # both watches are open
    killed_at = time.monotonic()
    leader.kill9()
    env = await store.get(Environment, name)
    spec = env.spec.model_copy(update={"state": target})
    await store.update(env.model_copy(update={"spec": spec}))
    first, settled = await progress
    taken = await lease_at
    after = await _task_identities(store)
    restarted = sorted(n for n, ident in before.items() if after.get(n) != ident)
    return {
        "target": target,
        "lease_seconds": taken - killed_at,
        "first_reconcile_seconds": first - killed_at,
        "settled_seconds": settled - killed_at,
        "tasks_restarted": len(restarted),
        "restarted_examples": restarted[:5],
    }


async def _task_identities(store: Store) -> dict[str, tuple[str | None, int | None]]:
    listed = await store.list(Task)
    return {t.name: (t.status.mesos_task_id, t.status.pid) for t in listed.items}


async def _holder(store: Store, key: str) -> str:
    async with asyncio.timeout(60):
        while True:
            raw = await store.get_raw(key)  # type: ignore[attr-defined]
            if raw is not None:
                return str(raw.value.decode())
            await asyncio.sleep(0.1)


async def _lease_taken(store: Store, key: str, revision: int, killed: str) -> float:
    """The monotonic time the lease key names another holder than the killed one."""
    stream = store.watch_raw(key, start_revision=revision + 1)  # type: ignore[attr-defined]
    async for _, value, _ in stream:
        if value is not None and value.value.decode() != killed:
            return time.monotonic()
    raise AssertionError("the lease watch ended")


async def _progress(
    store: Store, name: str, target: str, revision: int, *, within: float
) -> tuple[float, float]:
    """Monotonic times of the first status showing a transition, and of settling in `target`."""
    first: float | None = None
    async with asyncio.timeout(within):
        async for event in store.watch(Environment, start_revision=revision + 1):
            env = event.obj
            if event.name != name or env is None:
                continue
            if first is None and env.status.transition is not None:
                first = time.monotonic()
            if env.status.state == target and env.status.transition is None:
                now = time.monotonic()
                return (first or now), now
    raise AssertionError(f"{name} never reached {target}")


async def _settled(store: Store, name: str, state: str, *, within: float) -> None:
    async with asyncio.timeout(within):
        while True:
            env = await store.get(Environment, name)
            if env.status.state == state and env.status.transition is None:
                return
            await asyncio.sleep(0.5)


def _summary(trials: list[Json]) -> Json:
    def stats(key: str) -> Json:
        values = [t[key] for t in trials]
        return {"median": statistics.median(values), "max": max(values)}

    return {
        "lease_seconds": stats("lease_seconds"),
        "first_reconcile_seconds": stats("first_reconcile_seconds"),
        "settled_seconds": stats("settled_seconds"),
        "tasks_restarted": sum(t["tasks_restarted"] for t in trials),
    }


def _row(trial: int, row: Json) -> str:
    return (
        f"{trial:>5}  {row['target']:<10} {row['lease_seconds']:>8.2f} "
        f"{row['first_reconcile_seconds']:>10.2f} {row['settled_seconds']:>9.2f} "
        f"{row['tasks_restarted']:>10}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=1000, help="multiple of 100")
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--lease-ttl", type=int, default=2, help="seconds (o2's default: 15)")
    args = parser.parse_args(argv)
    manifests(args.tasks)  # a bad size fails before anything starts
    print(f"{'trial':>5}  {'target':<10} {'lease s':>8} {'1st rec. s':>10} {'settled s':>9} "
          f"{'restarted':>10}")  # fmt: skip
    keep = os.environ.get("BENCH_KEEP")
    if keep:
        result = asyncio.run(_main(args, Path(keep)))
    else:
        with tempfile.TemporaryDirectory(prefix="o2-failover-bench-") as tmp:
            result = asyncio.run(_main(args, Path(tmp)))
    s = result["summary"]
    print(
        f"median (max): lease {s['lease_seconds']['median']:.2f} ({s['lease_seconds']['max']:.2f})"
        f" s, first reconcile {s['first_reconcile_seconds']['median']:.2f}"
        f" ({s['first_reconcile_seconds']['max']:.2f}) s, tasks restarted {s['tasks_restarted']}"
    )
    print(f"wrote {write_json('failover_bench', result)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
