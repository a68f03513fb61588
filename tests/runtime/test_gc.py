"""Garbage collection and unreadable values, with an in-process manager on real etcd."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from controller.manager import Manager, ManagerConfig
from controller.runtime.finalizers import (
    FOREGROUND_DELETION,
    delete_foreground,
    delete_orphan,
    remove_finalizer,
)
from controller.runtime.leader import LeaderConfig
from crds.errors import NotFoundError
from crds.kinds.event import Event
from store.etcd import EtcdStore
from tests.runtime.gadget import Gadget, gadget
from tests.waiting import eventually

FAST = LeaderConfig(ttl=2, renew_deadline=1.3, retry_period=0.3)
GC = "tests.runtime.gadget:GadgetGC"
GADGETS = "tests.runtime.gadget:GadgetReconciler"


@contextlib.asynccontextmanager
async def running(store: EtcdStore, *controllers: str) -> AsyncIterator[Manager]:
    config = ManagerConfig(identity="gc-test", leader=FAST, controllers=controllers)
    mgr = Manager(store, store, config=config)
    stop = asyncio.Event()
    task = asyncio.create_task(mgr.run(stop))
    await eventually(lambda: mgr.elector.is_leader and all(c.running for c in mgr.controllers))
    try:
        yield mgr
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


@pytest.fixture
async def manager(etcd_store: EtcdStore) -> AsyncIterator[Manager]:
    async with running(etcd_store, GC) as mgr:
        yield mgr


async def exists(store: EtcdStore, name: str) -> bool:
    try:
        await store.get(Gadget, name)
    except NotFoundError:
        return False
    return True


async def wait_gone(store: EtcdStore, *names: str) -> None:
    async def left() -> list[str]:
        return [name for name in names if await exists(store, name)]

    await eventually(
        left, until=lambda found: not found, within=10, interval=0.02, message=f"{names} deleted"
    )


async def test_deleting_an_owner_cascades_to_dependents_in_the_background(
    etcd_store: EtcdStore, manager: Manager
) -> None:
    owner = await etcd_store.create(gadget("owner"))
    d1 = await etcd_store.create(gadget("dep-1", owners=[owner]))
    await etcd_store.create(gadget("dep-2", owners=[owner]))
    await etcd_store.create(gadget("grandchild", owners=[d1]))
    other = await etcd_store.create(gadget("other-owner"))
    await etcd_store.create(gadget("kept", owners=[other]))
    await etcd_store.delete(Gadget, "owner")
    await wait_gone(etcd_store, "dep-1", "dep-2", "grandchild")
    assert await exists(etcd_store, "kept")


async def test_dependent_of_a_recreated_owner_with_another_uid_is_collected(
    etcd_store: EtcdStore, manager: Manager
) -> None:
    first = await etcd_store.create(gadget("phoenix"))
    await etcd_store.delete(Gadget, "phoenix")
    await etcd_store.create(gadget("phoenix"))  # same name, new uid
    await etcd_store.create(gadget("ash", owners=[first]))
    await wait_gone(etcd_store, "ash")
    assert await exists(etcd_store, "phoenix")


async def test_foreground_deletion_waits_for_blocking_dependents(
    etcd_store: EtcdStore, manager: Manager
) -> None:
    owner = await etcd_store.create(gadget("fg"))
    blocker = gadget("blocker", owners=[owner], block=True)
    blocker = blocker.model_copy(
        update={"metadata": blocker.metadata.model_copy(update={"finalizers": ("test/hold",)})}
    )
    await etcd_store.create(blocker)
    await etcd_store.create(gadget("free", owners=[owner]))
    await delete_foreground(etcd_store, Gadget, "fg")
    await wait_gone(etcd_store, "free")
    held = await eventually(  # the GC asks for its deletion (after or before `free` went)
        lambda: etcd_store.get(Gadget, "blocker"),
        until=lambda g: g.metadata.deletion_timestamp is not None,
        within=10,
        message="the blocking dependent marked for deletion",
    )
    waiting = await etcd_store.get(Gadget, "fg")
    assert waiting.metadata.deletion_timestamp is not None
    assert FOREGROUND_DELETION in waiting.metadata.finalizers
    await remove_finalizer(etcd_store, held, "test/hold")
    await wait_gone(etcd_store, "blocker", "fg")


async def test_garbage_value_is_reported_as_warning_event_and_others_still_reconciled(
    etcd_store: EtcdStore,
) -> None:
    async with running(etcd_store, GC, GADGETS):
        await garbage_is_reported(etcd_store)


async def garbage_is_reported(etcd_store: EtcdStore) -> None:
    junk_key = etcd_store.key_for(Gadget, "junk")
    await etcd_store.put_raw(junk_key, b"\x00 this is not json")
    await etcd_store.create(gadget("healthy", value=3))

    async def reconciled() -> bool:
        obj = await etcd_store.get(Gadget, "healthy")
        return obj.status.seen == 3 and obj.status.writer == "gc-test"

    async def warned() -> list[Event]:
        items = (await etcd_store.list(Event)).items
        return [e for e in items if e.spec.reason == "Unreadable" and junk_key in e.spec.message]

    await eventually(reconciled, within=10, interval=0.02, message="gadget healthy reconciled")
    (event,) = await eventually(warned, within=10, interval=0.02, message="Unreadable warning")
    assert event.spec.type == "Warning"
    assert (event.spec.involved_object.kind, event.spec.involved_object.name) == ("Gadget", "junk")


async def test_fenced_reconcile_stops_controllers_and_a_new_term_begins(
    etcd_store: EtcdStore,
) -> None:
    from tests.runtime.gadget import FencedOnce

    FencedOnce.terms.clear()
    config = ManagerConfig(
        identity="fenced", leader=FAST, controllers=("tests.runtime.gadget:FencedOnce",)
    )
    mgr = Manager(etcd_store, etcd_store, config=config)
    stop = asyncio.Event()
    task = asyncio.create_task(mgr.run(stop))
    try:
        await etcd_store.create(gadget("f"))
        await eventually(lambda: len(FencedOnce.terms) >= 2, within=10)
        first, second = FencedOnce.terms[:2]
        assert 0 < first < second  # stopped, resigned, and re-elected under a new fence
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


async def test_orphan_deletion_keeps_dependents_and_drops_their_reference(
    etcd_store: EtcdStore, manager: Manager
) -> None:
    owner = await etcd_store.create(gadget("parent"))
    await etcd_store.create(gadget("orphan-1", owners=[owner]))
    await delete_orphan(etcd_store, Gadget, "parent")
    await wait_gone(etcd_store, "parent")
    survivor = await etcd_store.get(Gadget, "orphan-1")
    assert survivor.metadata.owner_references == ()
