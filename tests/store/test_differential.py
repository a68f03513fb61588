"""Random operation sequences give the same outcomes on MemoryStore and on EtcdStore (real etcd)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crds.errors import O2Error
from store.config import StoreConfig, open_store
from store.embedded import EmbeddedEtcd
from store.memory import MemoryStore
from store.resources import ResourceStore
from tests.etcd_fixture import unique_prefix
from tests.store.widget import Widget, WidgetStatus, widget

NAMES = ("a", "b")


@dataclass(frozen=True)
class Op:
    action: str
    name: str
    value: int


ops = st.lists(
    st.builds(
        Op,
        action=st.sampled_from(
            [
                "create",
                "update",
                "stale-update",
                "status",
                "delete",
                "finalize",
                "unfinalize",
                "raw-create",
                "raw-cas",
                "increment",
            ]
        ),
        name=st.sampled_from(NAMES),
        value=st.integers(1, 3),
    ),
    min_size=1,
    max_size=12,
)


def summary(obj: Widget | None) -> tuple[Any, ...] | None:
    """What must agree between stores (revisions, uids and timestamps legitimately differ)."""
    if obj is None:
        return None
    meta = obj.metadata
    return (
        obj.spec.size,
        obj.status.phase,
        meta.generation,
        meta.finalizers,
        meta.deletion_timestamp is not None,
    )


async def apply_op(store: ResourceStore, op: Op, seen: dict[str, Widget]) -> tuple[Any, ...]:
    """Run one op; returns (outcome, stored state) with errors reduced to their type."""
    try:
        result = await _run(store, op, seen)
        outcome: object = summary(result) if isinstance(result, Widget) else result
    except O2Error as exc:
        outcome = type(exc).__name__
    try:
        current: object = summary(await store.get(Widget, op.name))
        seen[op.name] = await store.get(Widget, op.name)
    except O2Error as exc:
        current = type(exc).__name__
    return outcome, current


async def _run(store: ResourceStore, op: Op, seen: dict[str, Widget]) -> object:
    raw_key = store.runtime_key(op.name)
    if op.action == "raw-create":
        return await store.create_raw(raw_key, b"x") is not None
    if op.action == "raw-cas":  # value 1: a stale revision; else the current one
        current = await store.get_raw(raw_key)
        expected = 1 if current is None or op.value == 1 else current.mod_revision
        return await store.cas_raw(raw_key, b"y", expected_mod_revision=expected)
    if op.action == "increment":
        return await store.increment(raw_key)
    if op.action == "create":
        return await store.create(widget(op.name, size=op.value))
    if op.action == "delete":
        return await store.delete(Widget, op.name)
    if op.action == "stale-update":
        old = seen.get(op.name) or widget(op.name)
        meta = old.metadata.model_copy(update={"resource_version": 1})
        return await store.update(_sized(old.model_copy(update={"metadata": meta}), op.value))
    latest = await store.get(Widget, op.name)
    if op.action == "update":
        return await store.update(_sized(latest, op.value))
    if op.action == "status":
        phase = WidgetStatus(phase=f"p{op.value}")
        return await store.update_status(latest.model_copy(update={"status": phase}))
    wanted = ("test/hold",) if op.action == "finalize" else ()
    meta = latest.metadata.model_copy(update={"finalizers": wanted})
    return await store.update(latest.model_copy(update={"metadata": meta}))


def _sized(obj: Widget, size: int) -> Widget:
    return obj.model_copy(update={"spec": obj.spec.model_copy(update={"size": size})})


async def run_sequence(store: ResourceStore, sequence: list[Op]) -> list[tuple[Any, ...]]:
    seen: dict[str, Widget] = {}
    return [await apply_op(store, op, seen) for op in sequence]


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(sequence=ops)
def test_memory_and_etcd_agree_on_random_operation_sequences(
    etcd_server: EmbeddedEtcd, sequence: list[Op]
) -> None:
    async def both() -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        memory = await run_sequence(MemoryStore(prefix=unique_prefix()), sequence)
        config = StoreConfig(endpoints=(etcd_server.endpoint,), prefix=unique_prefix())
        etcd = await open_store(config)
        try:
            return memory, await run_sequence(etcd, sequence)
        finally:
            await etcd.close()

    memory, etcd = asyncio.run(both())
    assert memory == etcd
