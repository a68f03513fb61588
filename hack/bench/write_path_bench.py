"""Write-path benchmark: CPU microseconds per object of the store's batched writes.

A transition of N tasks writes each task's spec (the environment controller's `update_many`)
and each task's status (the task controller's `update_status_many`). This times both on the
in-memory store (no etcd), over N tasks of the environments benchmark's shape
(hack.bench.informer_bench.running_task), in rounds that move every task's desired state and
then its status, each round on the objects the previous write returned (as the controllers
write on what their informers hold: our own writes, cached with their bytes).

- `update-many`, `status-many`: the whole call, CPU seconds of this process per object;
- `--steps`: each step of one write, alone, over the same N objects (merge, encode or splice,
  the cache's entry of what was written, ...), to see where the microseconds go.

Least of the rounds (a busy machine matters less). `.venv/bin/python -m
hack.bench.write_path_bench [--tasks N] [--rounds N] [--steps]`.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any

from crds.kinds.task import Task
from hack.bench.informer_bench import running_task
from procutil.gc import tune_gc
from store import codec
from store.batched import merge_for_status, merge_for_update
from store.memory import MemoryStore

STATES = ("CONFIGURED", "RUNNING")


def _specs(tasks: Sequence[Task], state: str) -> list[Task]:
    return [
        t.model_copy(update={"spec": t.spec.model_copy(update={"state": state})}) for t in tasks
    ]


def _statuses(tasks: Sequence[Task], state: str) -> list[Task]:
    return [
        t.model_copy(update={"status": t.status.model_copy(update={"state": state})}) for t in tasks
    ]


async def _setup(tasks: int) -> tuple[MemoryStore, list[Task]]:
    store = MemoryStore()
    created = await store.create_many([running_task(i) for i in range(tasks)])
    stored = await store.update_status_many(
        [
            c.model_copy(update={"status": running_task(i).status})
            for i, c in enumerate(created.written)
        ]
    )
    return store, list(stored.written)


async def measure(tasks: int, rounds: int) -> dict[str, list[float]]:
    store, current = await _setup(tasks)
    out: dict[str, list[float]] = {"update-many": [], "status-many": []}
    for round_ in range(rounds):
        state = STATES[round_ % 2]
        specs = _specs(current, state)
        began = time.process_time()
        result = await store.update_many(specs)
        out["update-many"].append((time.process_time() - began) / tasks * 1e6)
        assert len(result.written) == tasks
        statuses = _statuses(result.written, state)
        began = time.process_time()
        result = await store.update_status_many(statuses)
        out["status-many"].append((time.process_time() - began) / tasks * 1e6)
        assert len(result.written) == tasks
        current = list(result.written)
    return out


def _time(step: Callable[[Any], object], items: Sequence[Any], repeats: int = 5) -> float:
    best = float("inf")
    for _ in range(repeats):
        began = time.process_time()
        for item in items:
            step(item)
        best = min(best, time.process_time() - began)
    return best / len(items) * 1e6


async def steps(tasks: int) -> dict[str, float]:
    """Each step of a write alone, on the objects a round leaves (cached, with own bytes)."""
    store, current = await _setup(tasks)
    cache = store._cache  # noqa: SLF001 (the steps of a write, alone)
    keys = [store.key_for(Task, t.metadata.name) for t in current]
    specs = _specs(current, "CONFIGURED")
    statuses = _statuses(current, "CONFIGURED")
    upd = [merge_for_update(s, d)[0] for s, d in zip(current, specs, strict=True)]
    sts = [merge_for_status(s, d)[0] for s, d in zip(current, statuses, strict=True)]
    for m in (*upd, *sts):
        codec.set_revision(m, None)
    raws_u = [codec.encode_unstamped(m) for m in upd]
    raws_s = [codec.encode_unstamped(m) for m in sts]
    own = [cache.own_bytes(k, s) for k, s in zip(keys, current, strict=True)]
    assert all(o is not None for o in own)
    idx = range(tasks)
    plan = store._plan  # noqa: SLF001 (a write's merge and bytes, without its txn)
    rows = {
        "_plan (update)": _time(
            lambda i: plan(i, specs[i], current[i], keys[i], merge_for_update, checked=False), idx
        ),
        "_plan (status)": _time(
            lambda i: plan(i, statuses[i], current[i], keys[i], merge_for_status, checked=False),
            idx,
        ),
        "key_for": _time(lambda i: store.key_for(Task, current[i].metadata.name), idx),
        "cache.get unchecked": _time(
            lambda i: cache.get(keys[i], current[i].metadata.resource_version, verify=False), idx
        ),
        "merge_update": _time(lambda i: codec.merge_update(current[i], specs[i]), idx),
        "encode_unstamped (update)": _time(lambda i: codec.encode_unstamped(upd[i]), idx),
        "holds_update": _time(
            lambda i: cache.holds_update(keys[i], current[i], raws_u[i], spec_changed=True), idx
        ),
        "merge_status": _time(lambda i: codec.merge_status(current[i], statuses[i]), idx),
        "same_model (status)": _time(
            lambda i: codec.same_model(statuses[i].status, current[i].status), idx
        ),
        "spliced (status)": _time(lambda i: codec.spliced(own[i], sts[i]), idx),
        "status_tail": _time(lambda i: codec.status_tail(sts[i]), idx),
        "encode_unstamped (status)": _time(lambda i: codec.encode_unstamped(sts[i]), idx),
        "set_revision": _time(lambda i: codec.set_revision(sts[i], None), idx),
        "replaced (metadata)": _time(lambda i: codec.replaced(current[i].metadata, {}), idx),
    }
    # the cache's entry of a write (last: it replaces the entries the rows above read)
    rows["cache.put own (update)"] = _time(
        lambda i: cache.put(keys[i], upd[i], raws_u[i], own=True), idx, repeats=1
    )
    rows["cache.put own (status)"] = _time(
        lambda i: cache.put(keys[i], sts[i], raws_s[i], own=True), idx, repeats=1
    )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--steps", action="store_true", help="time each step alone too")
    args = parser.parse_args(argv)
    tune_gc()
    result = asyncio.run(measure(args.tasks, args.rounds))
    for name, values in result.items():
        cells = " ".join(f"{v:6.1f}" for v in values)
        print(f"{name:>12}  least {min(values):6.1f} us/object  (rounds: {cells})")
    if args.steps:
        for name, us in asyncio.run(steps(args.tasks)).items():
            print(f"{name:>28}  {us:6.2f} us")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
