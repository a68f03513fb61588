"""Status and finalizer helpers on real etcd: observedGeneration, conditions, CAS finalizers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from controller.runtime.finalizers import add_finalizer, remove_finalizer
from controller.runtime.status import condition, write_status
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
