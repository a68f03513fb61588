"""Status and finalizer helpers on real etcd: observedGeneration, conditions, CAS finalizers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from controller.runtime.finalizers import add_finalizer, remove_finalizer
from controller.runtime.status import condition, write_status, write_status_many
from crds.errors import ConflictError, NotFoundError
from store.etcd import EtcdStore
from tests.runtime.gadget import Gadget, gadget

T0 = datetime(2026, 1, 1, tzinfo=UTC)


async def test_status_write_stamps_observed_generation_and_keeps_transition_time(
    etcd_store: EtcdStore,
) -> None:
    obj = await etcd_store.create(gadget("s"))
    ready = condition("Ready", True, reason="Converged")
    first = await write_status(etcd_store, obj, obj.status, conditions=[ready], now=T0)
    assert first.status.observed_generation == obj.metadata.generation == 1
    (cond,) = first.status.conditions
    assert (cond.status, cond.last_transition_time, cond.observed_generation) == ("True", T0, 1)
    again = await write_status(
        etcd_store, first, first.status, conditions=[ready], now=T0 + timedelta(minutes=5)
    )
    assert again.metadata.resource_version == first.metadata.resource_version  # nothing written
    failed = condition("Ready", False, reason="Broken", message="boom")
    later = T0 + timedelta(minutes=9)
    third = await write_status(etcd_store, again, again.status, conditions=[failed], now=later)
    assert third.status.conditions[0].last_transition_time == later


async def test_status_write_with_a_stale_copy_is_a_conflict(etcd_store: EtcdStore) -> None:
    obj = await etcd_store.create(gadget("stale"))
    await etcd_store.update(
        obj.model_copy(update={"spec": obj.spec.model_copy(update={"value": 1})})
    )
    with pytest.raises(ConflictError):
        await write_status(etcd_store, obj, obj.status.model_copy(update={"seen": 5}))


async def test_finalizer_is_added_once_and_its_removal_completes_a_pending_delete(
    etcd_store: EtcdStore,
) -> None:
    obj = await etcd_store.create(gadget("fin"))
    held = await add_finalizer(etcd_store, obj, "o2/cleanup")
    assert await add_finalizer(etcd_store, held, "o2/cleanup") == held
    marked = await etcd_store.delete(Gadget, "fin")
    assert marked is not None and marked.metadata.deletion_timestamp is not None
    assert await add_finalizer(etcd_store, marked, "o2/other") == marked  # not while deleting
    with pytest.raises(ConflictError):
        await remove_finalizer(etcd_store, held, "o2/cleanup")  # stale copy: CAS refuses
    assert await remove_finalizer(etcd_store, marked, "o2/cleanup") is None
    with pytest.raises(NotFoundError):
        await etcd_store.get(Gadget, "fin")


async def test_batched_status_writes_skip_no_ops_and_sort_out_conflicts(
    etcd_store: EtcdStore,
) -> None:
    a, b, c = [await etcd_store.create(gadget(n)) for n in ("a", "b", "c")]
    stale = await etcd_store.update(
        c.model_copy(update={"spec": c.spec.model_copy(update={"value": 1})})
    )
    assert stale.metadata.generation == 2
    unchanged = a.status.model_copy(update={"observed_generation": a.metadata.generation})
    a = await write_status(etcd_store, a, unchanged)
    result = await write_status_many(
        etcd_store,
        [
            (a, a.status),  # nothing to write
            (b, b.status.model_copy(update={"seen": 7})),
            (c, c.status.model_copy(update={"seen": 9})),  # c changed since: a conflict
        ],
    )
    assert [g.name for g in result.written] == ["a", "b"]
    assert result.written[0].metadata.resource_version == a.metadata.resource_version
    written_b = result.written[1]
    assert (written_b.status.seen, written_b.status.observed_generation) == (7, 1)
    assert [g.name for g in result.conflicts] == ["c"]


async def test_status_written_for_another_controller_leaves_observed_generation(
    etcd_store: EtcdStore,
) -> None:
    obj = await etcd_store.create(gadget("foreign"))
    obj = await etcd_store.update(
        obj.model_copy(update={"spec": obj.spec.model_copy(update={"value": 3})})
    )
    assert obj.metadata.generation == 2
    mine = await write_status(etcd_store, obj, obj.status.model_copy(update={"seen": 1}))
    assert mine.status.observed_generation == 2
    theirs = mine.model_copy(
        update={"status": mine.status.model_copy(update={"observed_generation": 1})}
    )
    theirs = await etcd_store.update_status(theirs)
    foreign = await write_status(
        etcd_store, theirs, theirs.status.model_copy(update={"seen": 2}), observe=False
    )
    assert (foreign.status.seen, foreign.status.observed_generation) == (2, 1)
    [many] = (
        await write_status_many(
            etcd_store, [(foreign, foreign.status.model_copy(update={"seen": 4}))], observe=False
        )
    ).written
    assert (many.status.seen, many.status.observed_generation) == (4, 1)
