"""Informer: list+watch into a cache, resume, relist on compaction, unreadable values, stalls."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from crds.errors import StoreUnavailableError, UnreadableObjectError
from store.etcd import EtcdStore
from store.informer import CacheEvent, Informer, InformerFactory
from store.memory import MemoryStore
from tests.runtime.gadget import Gadget, gadget
from tests.waiting import eventually


@pytest.fixture
async def informer(etcd_store: EtcdStore) -> AsyncIterator[Informer[Gadget]]:
    inf = Informer(etcd_store, Gadget)
    try:
        yield inf
    finally:
        await inf.stop()


def recorder(informer: Informer[Any]) -> list[tuple[str, str]]:
    seen: list[tuple[str, str]] = []

    def handler(event: CacheEvent[Any]) -> None:
        seen.append((event.type, event.name))

    informer.add_handler(handler)
    return seen


async def test_cache_follows_creates_updates_and_deletes(
    etcd_store: EtcdStore, informer: Informer[Gadget]
) -> None:
    await etcd_store.create(gadget("pre", value=1))
    seen = recorder(informer)
    informer.start()
    await asyncio.wait_for(informer.wait_synced(), 5)
    assert informer.get("pre") is not None
    created = await etcd_store.create(gadget("a", value=1, labels={"team": "tpc"}))
    updated = await etcd_store.update(
        created.model_copy(update={"spec": created.spec.model_copy(update={"value": 2})})
    )
    await asyncio.wait_for(informer.wait_for_revision(updated.metadata.resource_version or 0), 5)
    cached = informer.get("a")
    assert cached is not None and cached.spec.value == 2
    assert [o.metadata.name for o in informer.list(labels={"team": "tpc"})] == ["a"]
    await etcd_store.delete(Gadget, "pre")
    last = await etcd_store.create(gadget("z"))
    await asyncio.wait_for(informer.wait_for_revision(last.metadata.resource_version or 0), 5)
    assert informer.get("pre") is None
    assert seen == [
        ("ADDED", "pre"),
        ("ADDED", "a"),
        ("MODIFIED", "a"),
        ("DELETED", "pre"),
        ("ADDED", "z"),
    ]


async def test_owner_index_finds_dependents_by_uid(
    etcd_store: EtcdStore, informer: Informer[Gadget]
) -> None:
    owner = await etcd_store.create(gadget("owner"))
    await etcd_store.create(gadget("dep-1", owners=[owner]))
    await etcd_store.create(gadget("dep-2", owners=[owner]))
    informer.start()
    await asyncio.wait_for(informer.wait_synced(), 5)
    names = sorted(o.metadata.name for o in informer.by_owner(owner.metadata.uid))
    assert names == ["dep-1", "dep-2"]
    await etcd_store.delete(Gadget, "dep-1")
    last = await etcd_store.create(gadget("other"))
    await asyncio.wait_for(informer.wait_for_revision(last.metadata.resource_version or 0), 5)
    assert [o.metadata.name for o in informer.by_owner(owner.metadata.uid)] == ["dep-2"]


async def test_compacted_watch_revision_relists_and_reports_every_difference(
    etcd_store: EtcdStore, informer: Informer[Gadget]
) -> None:
    a = await etcd_store.create(gadget("a", value=1))
    await etcd_store.create(gadget("b"))
    informer.start()
    await asyncio.wait_for(informer.wait_synced(), 5)
    await informer.stop()
    seen = recorder(informer)
    seen.clear()
    await etcd_store.update(a.model_copy(update={"spec": a.spec.model_copy(update={"value": 5})}))
    await etcd_store.delete(Gadget, "b")
    c = await etcd_store.create(gadget("c"))
    await etcd_store.compact(c.metadata.resource_version or 0)
    informer.start()
    await asyncio.wait_for(informer.wait_for_revision(c.metadata.resource_version or 0), 5)
    assert informer.relists == 1
    assert sorted(seen) == [("ADDED", "c"), ("DELETED", "b"), ("MODIFIED", "a")]
    cached = informer.get("a")
    assert cached is not None and cached.spec.value == 5
    # and the watch keeps going after the relist
    d = await etcd_store.create(gadget("d"))
    await asyncio.wait_for(informer.wait_for_revision(d.metadata.resource_version or 0), 5)
    assert informer.get("d") is not None


async def test_garbage_value_is_reported_by_key_and_skipped(
    etcd_store: EtcdStore, informer: Informer[Gadget]
) -> None:
    garbage_key = etcd_store.key_for(Gadget, "broken")
    await etcd_store.put_raw(garbage_key, b"{not json")
    await etcd_store.create(gadget("fine-1"))
    reported: list[UnreadableObjectError] = []
    informer.on_unreadable(reported.append)
    informer.start()
    await asyncio.wait_for(informer.wait_synced(), 5)
    await etcd_store.put_raw(etcd_store.key_for(Gadget, "also-broken"), b'{"metadata": 3}')
    last = await etcd_store.create(gadget("fine-2"))
    await asyncio.wait_for(informer.wait_for_revision(last.metadata.resource_version or 0), 5)
    assert [e.key for e in reported] == [garbage_key, etcd_store.key_for(Gadget, "also-broken")]
    assert sorted(informer.names()) == ["fine-1", "fine-2"]
    assert set(informer.unreadable) == {"broken", "also-broken"}


async def test_silent_watch_is_restarted_and_still_delivers(etcd_store: EtcdStore) -> None:
    informer = Informer(etcd_store, Gadget, inactivity_timeout=0.2)
    try:
        informer.start()
        await asyncio.wait_for(informer.wait_synced(), 5)
        await eventually(lambda: informer.stalls >= 1, within=5)
        created = await etcd_store.create(gadget("after-stall"))
        rev = created.metadata.resource_version or 0
        await asyncio.wait_for(informer.wait_for_revision(rev), 5)
        assert informer.get("after-stall") is not None
    finally:
        await informer.stop()


async def test_factory_shares_one_informer_per_kind(etcd_store: EtcdStore) -> None:
    factory = InformerFactory(etcd_store)
    assert factory.informer(Gadget) is factory.informer(Gadget)
    factory.start()
    try:
        await asyncio.wait_for(factory.wait_synced(), 5)
        assert factory.informer(Gadget).synced
    finally:
        await factory.stop()


class BreaksOnce:
    """Delegates to a real store; its first watch stream breaks after one event."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.broken = False
        self.starts: list[int] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    async def watch(self, kind: Any, *, start_revision: int) -> AsyncIterator[Any]:
        self.starts.append(start_revision)
        async for event in self.store.watch(kind, start_revision=start_revision):
            yield event
            if not self.broken:
                self.broken = True
                raise StoreUnavailableError("stream reset")


async def test_broken_stream_resumes_from_the_last_revision_without_losing_changes(
    memory_store: MemoryStore,
) -> None:
    flaky = BreaksOnce(memory_store)
    informer = Informer(flaky, Gadget, retry_delay=0.01)
    try:
        informer.start()
        await asyncio.wait_for(informer.wait_synced(), 5)
        listed_at = informer.revision
        first = await memory_store.create(gadget("one"))
        second = await memory_store.create(gadget("two"))
        await asyncio.wait_for(informer.wait_for_revision(second.metadata.resource_version or 0), 5)
        assert informer.watch_restarts == 1
        assert flaky.starts == [listed_at + 1, (first.metadata.resource_version or 0) + 1]
        assert sorted(informer.names()) == ["one", "two"]
    finally:
        await informer.stop()


def test_an_update_keeping_labels_and_owners_leaves_the_index_sets_alone() -> None:
    """Every status write of every task is an update with the same labels and owners: the
    index entries stay (the same sets, untouched); a label change still moves the object."""
    from store.informer import LABEL_INDEX, OWNER_INDEX

    inf = Informer(MemoryStore(), Gadget)
    owner = gadget("owner")

    def at(revision: int, **fields: Any) -> Gadget:
        obj = gadget("a", owners=[owner], **fields)
        return obj.model_copy(
            update={"metadata": obj.metadata.model_copy(update={"resource_version": revision})}
        )

    inf._apply_put("a", at(1, labels={"team": "tpc"}))
    labels, owners = inf._indexes[LABEL_INDEX], inf._indexes[OWNER_INDEX]
    tpc, owned = labels["team=tpc"], owners[owner.metadata.uid]
    inf._apply_put("a", at(2, value=5, labels={"team": "tpc"}))
    assert labels["team=tpc"] is tpc and owners[owner.metadata.uid] is owned
    assert [o.spec.value for o in inf.list(labels={"team": "tpc"})] == [5]
    inf._apply_put("a", at(3, labels={"team": "its"}))
    assert "team=tpc" not in labels
    assert [o.metadata.name for o in inf.list(labels={"team": "its"})] == ["a"]
    assert [o.metadata.name for o in inf.by_owner(owner.metadata.uid)] == ["a"]
