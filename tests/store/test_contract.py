"""One contract suite for the Store/RuntimeKV semantics, run on MemoryStore and on real etcd."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from crds.errors import (
    AlreadyExistsError,
    CompactedError,
    ConflictError,
    FencedError,
    NotFoundError,
    UnreadableObjectError,
)
from store.api import Fence, WatchEvent
from store.codec import encode as codec_encode
from store.config import StoreConfig, open_store
from store.resources import ResourceStore
from tests.etcd_fixture import PrivateEtcdFactory
from tests.store.changes import next_change
from tests.store.widget import Widget, WidgetStatus, widget


class FakeLeaseClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["memory", "etcd"])
async def isolated_store(
    request: pytest.FixtureRequest, private_etcd: PrivateEtcdFactory
) -> AsyncIterator[ResourceStore]:
    """Like `store`, but on its own etcd: for compaction, which is global to an etcd."""
    if request.param == "memory":
        from store.memory import MemoryStore

        yield MemoryStore()
        return
    etcd = await open_store(StoreConfig(endpoints=(private_etcd().endpoint,)))
    try:
        yield etcd
    finally:
        await etcd.close()


def resized(obj: Widget, size: int) -> Widget:
    return obj.model_copy(update={"spec": obj.spec.model_copy(update={"size": size})})


def relabeled(obj: Widget, **labels: str) -> Widget:
    meta = obj.metadata.model_copy(update={"labels": labels})
    return obj.model_copy(update={"metadata": meta})


def with_finalizers(obj: Widget, *finalizers: str) -> Widget:
    meta = obj.metadata.model_copy(update={"finalizers": finalizers})
    return obj.model_copy(update={"metadata": meta})


def with_phase(obj: Widget, phase: str) -> Widget:
    return obj.model_copy(update={"status": WidgetStatus(phase=phase)})


async def next_events(stream: AsyncIterator[WatchEvent[Any]], count: int) -> list[WatchEvent[Any]]:
    async def take() -> list[WatchEvent[Any]]:
        return [await next_change(stream) for _ in range(count)]

    return await asyncio.wait_for(take(), timeout=5)


async def test_create_sets_uid_generation_timestamp_and_resource_version(
    store: ResourceStore,
) -> None:
    created = await store.create(widget("a"))
    assert created.metadata.uid
    assert created.metadata.generation == 1
    assert created.metadata.creation_timestamp is not None
    assert created.metadata.resource_version
    fetched = await store.get(Widget, "a")
    assert fetched == created
    raw = await store.get_raw(store.key_for(Widget, "a"))
    assert raw is not None and raw.mod_revision == created.metadata.resource_version
    assert b"resourceVersion" not in raw.value


async def test_create_of_taken_name_raises_already_exists(store: ResourceStore) -> None:
    await store.create(widget("a"))
    with pytest.raises(AlreadyExistsError):
        await store.create(widget("a", size=2))


async def test_get_of_missing_object_raises_not_found(store: ResourceStore) -> None:
    with pytest.raises(NotFoundError):
        await store.get(Widget, "nope")


async def test_generation_bumps_only_when_spec_changes(store: ResourceStore) -> None:
    created = await store.create(widget("a"))
    labeled = await store.update(relabeled(created, team="x"))
    assert labeled.metadata.generation == 1
    assert labeled.metadata.labels == {"team": "x"}
    assert labeled.metadata.resource_version != created.metadata.resource_version
    grown = await store.update(resized(labeled, 7))
    assert grown.metadata.generation == 2
    assert (await store.get(Widget, "a")).spec.size == 7


async def test_update_that_changes_nothing_is_skipped(store: ResourceStore) -> None:
    created = await store.create(widget("a"))
    again = await store.update(created)
    assert again.metadata.resource_version == created.metadata.resource_version
    raw = await store.get_raw(store.key_for(Widget, "a"))
    assert raw is not None and raw.mod_revision == created.metadata.resource_version


async def test_two_stale_updates_exactly_one_wins(store: ResourceStore) -> None:
    created = await store.create(widget("a"))
    results = await asyncio.gather(
        store.update(resized(created, 2)),
        store.update(resized(created, 3)),
        return_exceptions=True,
    )
    conflicts = [r for r in results if isinstance(r, ConflictError)]
    winners = [r for r in results if isinstance(r, Widget)]
    assert len(conflicts) == 1 and len(winners) == 1
    assert (await store.get(Widget, "a")).spec.size == winners[0].spec.size


async def test_update_from_stale_read_raises_conflict(store: ResourceStore) -> None:
    created = await store.create(widget("a"))
    await store.update(resized(created, 2))
    with pytest.raises(ConflictError):
        await store.update(resized(created, 3))


async def test_update_of_deleted_object_raises_not_found(store: ResourceStore) -> None:
    created = await store.create(widget("a"))
    await store.delete(Widget, "a")
    with pytest.raises(NotFoundError):
        await store.update(resized(created, 2))


async def test_status_is_written_separately_from_spec(store: ResourceStore) -> None:
    created = await store.create(widget("a"))
    # update ignores a status the caller changed; update_status ignores spec changes
    updated = await store.update(with_phase(resized(created, 2), "Ignored"))
    assert updated.status.phase == ""
    written = await store.update_status(with_phase(resized(updated, 9), "Running"))
    assert written.status.phase == "Running"
    assert written.spec.size == 2
    assert written.metadata.generation == 2
    same = await store.update_status(written)
    assert same.metadata.resource_version == written.metadata.resource_version


async def test_update_status_many_writes_all_and_reports_conflicts_per_item(
    store: ResourceStore,
) -> None:
    objs = [await store.create(widget(f"w{i}")) for i in range(5)]
    await store.update(resized(objs[2], 5))  # objs[2] is now stale
    wanted = [with_phase(o, "Running") for o in objs]
    result = await store.update_status_many(wanted)
    assert result.conflicts == [wanted[2]]
    assert not result.missing and not result.errors and not result.ok
    assert [(w.name, w.status.phase) for w in result.written] == [
        (f"w{i}", "Running") for i in (0, 1, 3, 4)
    ]
    listed = await store.list(Widget)
    phases = {o.metadata.name: o.status.phase for o in listed.items}
    assert phases == {"w0": "Running", "w1": "Running", "w2": "", "w3": "Running", "w4": "Running"}


async def test_update_status_many_batches_beyond_one_txn(store: ResourceStore) -> None:
    objs = [await store.create(widget(f"w{i}")) for i in range(200)]
    result = await store.update_status_many([with_phase(o, "Running") for o in objs])
    assert result.ok and all(r.status.phase == "Running" for r in result.written)
    revisions = {r.metadata.resource_version for r in result.written}
    assert len(revisions) == 2  # 128 + 72: two txns


async def test_delete_without_finalizers_removes_the_object(store: ResourceStore) -> None:
    await store.create(widget("a"))
    assert await store.delete(Widget, "a") is None
    with pytest.raises(NotFoundError):
        await store.get(Widget, "a")
    with pytest.raises(NotFoundError):
        await store.delete(Widget, "a")


async def test_delete_with_finalizers_marks_then_last_finalizer_removes(
    store: ResourceStore,
) -> None:
    await store.create(widget("a", finalizers=("o2/one", "o2/two")))
    marked = await store.delete(Widget, "a")
    assert marked is not None and marked.metadata.deletion_timestamp is not None
    again = await store.delete(Widget, "a")
    assert again is not None
    assert again.metadata.deletion_timestamp == marked.metadata.deletion_timestamp
    one_left = await store.update(with_finalizers(marked, "o2/two"))
    assert (await store.get(Widget, "a")).metadata.finalizers == ("o2/two",)
    await store.update(with_finalizers(one_left))
    with pytest.raises(NotFoundError):
        await store.get(Widget, "a")


async def test_delete_with_stale_resource_version_raises_conflict(store: ResourceStore) -> None:
    created = await store.create(widget("a"))
    await store.update(resized(created, 2))
    with pytest.raises(ConflictError):
        await store.delete(Widget, "a", resource_version=created.metadata.resource_version)


async def test_list_reports_garbage_as_unreadable_and_lists_the_rest(
    store: ResourceStore,
) -> None:
    await store.create(widget("a", labels={"team": "x"}))
    await store.create(widget("b"))
    await store.put_raw(store.key_for(Widget, "junk"), b"{not json")
    await store.put_raw(store.key_for(Widget, "bad"), b'{"metadata": {"name": "bad"}, "x": 1}')
    listed = await store.list(Widget)
    assert [o.metadata.name for o in listed.items] == ["a", "b"]
    assert sorted(e.key for e in listed.unreadable) == [
        store.key_for(Widget, "bad"),
        store.key_for(Widget, "junk"),
    ]
    assert listed.revision >= max(o.metadata.resource_version or 0 for o in listed.items)
    only_x = await store.list(Widget, labels={"team": "x"})
    assert [o.metadata.name for o in only_x.items] == ["a"]


async def test_watch_from_revision_replays_changes_in_order(store: ResourceStore) -> None:
    start = (await store.list(Widget)).revision + 1
    created = await store.create(widget("a"))
    updated = await store.update(resized(created, 4))
    await store.delete(Widget, "a")
    await store.put_raw(store.key_for(Widget, "junk"), b"garbage")
    stream = aiter(store.watch(Widget, start_revision=start))
    events = await next_events(stream, 4)
    assert [e.type for e in events] == ["ADDED", "MODIFIED", "DELETED", "UNREADABLE"]
    assert [e.name for e in events] == ["a", "a", "a", "junk"]
    assert events[1].obj == updated
    assert events[2].obj is not None and events[2].obj.spec.size == 4
    assert events[3].error is not None and events[3].error.key == store.key_for(Widget, "junk")
    revisions = [e.revision for e in events]
    assert revisions == sorted(revisions)
    await store.create(widget("b"))  # and live events keep coming
    (live,) = await next_events(stream, 1)
    assert (live.type, live.name) == ("ADDED", "b")
    await stream.aclose()  # type: ignore[attr-defined]


async def test_watch_from_compacted_revision_raises_compacted(
    isolated_store: ResourceStore,
) -> None:
    store = isolated_store
    first = await store.create(widget("a"))
    latest = await store.update(resized(first, 2))
    await store.update(resized(latest, 3))
    current = (await store.list(Widget)).revision
    await store.compact(current)
    stream = aiter(store.watch(Widget, start_revision=first.metadata.resource_version or 1))
    with pytest.raises(CompactedError):
        await asyncio.wait_for(next_change(stream), timeout=5)


async def test_fence_rejects_writes_once_the_leader_key_is_recreated(
    store: ResourceStore,
) -> None:
    lease_key = store.lease_key("controller")
    revision = await store.create_raw(lease_key, b"me")
    assert revision is not None
    fenced = store.with_fence(Fence(lease_key, revision))
    created = await fenced.create(widget("a"))
    written = await fenced.update(resized(created, 2))
    await store.delete_raw(lease_key)
    assert await store.create_raw(lease_key, b"someone-else") is not None
    with pytest.raises(FencedError):
        await fenced.update(resized(written, 3))
    with pytest.raises(FencedError):
        await fenced.create(widget("b"))
    with pytest.raises(FencedError):
        await fenced.update_status(with_phase(written, "Running"))
    with pytest.raises(FencedError):
        await fenced.update_status_many([with_phase(written, "Running")])
    with pytest.raises(FencedError):
        await fenced.delete(Widget, "a")
    with pytest.raises(FencedError):
        await fenced.increment(store.runtime_key("run-number"))
    assert (await store.get(Widget, "a")).spec.size == 2


async def test_increment_is_atomic_under_concurrency(store: ResourceStore) -> None:
    key = store.runtime_key("run-number")
    values = await asyncio.gather(*(store.increment(key) for _ in range(20)))
    assert sorted(values) == list(range(1, 21))
    raw = await store.get_raw(key)
    assert raw is not None and raw.value == b"20"


async def test_raw_create_and_cas(store: ResourceStore) -> None:
    key = store.runtime_key("mesos/framework-id")
    revision = await store.create_raw(key, b"fw-1")
    assert revision is not None
    assert await store.create_raw(key, b"fw-2") is None
    assert not await store.cas_raw(key, b"fw-3", expected_mod_revision=revision - 1)
    assert await store.cas_raw(key, b"fw-3", expected_mod_revision=revision)
    raw = await store.get_raw(key)
    assert raw is not None and raw.value == b"fw-3"
    await store.delete_raw(key)
    assert await store.get_raw(key) is None


async def test_list_raw_reads_every_key_under_a_prefix_and_no_other(
    store: ResourceStore,
) -> None:
    await store.put_raw(store.runtime_key("aliecs/env-a/trg/ctp/load"), b"pp")
    await store.put_raw(store.runtime_key("aliecs/env-a/trg/ltu/cfg"), b"x")
    await store.put_raw(store.runtime_key("aliecs/env-ab/trg/ctp/load"), b"other")
    listed = await store.list_raw(store.runtime_key("aliecs/env-a/"))
    assert listed == {
        store.runtime_key("aliecs/env-a/trg/ctp/load"): b"pp",
        store.runtime_key("aliecs/env-a/trg/ltu/cfg"): b"x",
    }
    assert await store.list_raw(store.runtime_key("aliecs/none/")) == {}


async def test_revoked_lease_removes_its_keys_and_refresh_reports_it_gone(
    store: ResourceStore,
) -> None:
    lease = await store.grant_lease(30)
    assert await store.refresh_lease(lease) > 0
    key = store.lease_key("leader")
    await store.create_raw(key, b"me", lease=lease)
    await store.create(widget("ephemeral"), lease=lease)
    await store.revoke_lease(lease)
    assert await store.get_raw(key) is None
    with pytest.raises(NotFoundError):
        await store.get(Widget, "ephemeral")
    with pytest.raises(NotFoundError):
        await store.refresh_lease(lease)


async def test_memory_lease_expires_on_the_injected_clock() -> None:
    from store.memory import MemoryStore

    clock = FakeLeaseClock()
    store = MemoryStore(lease_clock=clock)
    lease = await store.grant_lease(5)
    key = store.lease_key("leader")
    await store.create_raw(key, b"me", lease=lease)
    clock.now += 4
    assert await store.refresh_lease(lease) == 5
    clock.now += 4
    assert await store.get_raw(key) is not None
    clock.now += 2
    assert await store.get_raw(key) is None


async def test_etcd_lease_expires_without_refresh(etcd_store: ResourceStore) -> None:
    lease = await etcd_store.grant_lease(1)
    key = etcd_store.lease_key("leader")
    revision = await etcd_store.create_raw(key, b"me", lease=lease)
    assert revision is not None
    stream = aiter(etcd_store.watch_raw(key, start_revision=revision + 1))
    deleted_key, value, _ = await asyncio.wait_for(anext(stream), timeout=10)
    assert (deleted_key, value) == (key, None)
    await stream.aclose()  # type: ignore[attr-defined]


async def test_an_instance_mutated_in_place_never_passes_for_the_stored_one(
    store: ResourceStore,
) -> None:
    created = await store.create(widget("a"))
    created.metadata.labels["team"] = "x"  # dicts inside frozen models are still mutable
    updated = await store.update(created)
    assert updated.metadata.labels == {"team": "x"}
    assert updated.metadata.resource_version != created.metadata.resource_version
    assert (await store.get(Widget, "a")).metadata.labels == {"team": "x"}


async def test_watch_from_a_future_revision_starts_there(store: ResourceStore) -> None:
    start = (await store.list(Widget)).revision + 3
    stream = aiter(store.watch(Widget, start_revision=start))
    pending = asyncio.ensure_future(next_change(stream))
    created = [await store.create(widget(name)) for name in ("a", "b", "c", "d")]
    expected = next(o for o in created if (o.metadata.resource_version or 0) >= start)
    event = await asyncio.wait_for(pending, timeout=5)
    assert (event.name, event.revision) == (expected.name, expected.metadata.resource_version)
    assert created[0].metadata.resource_version < start  # type: ignore[operator]
    await stream.aclose()  # type: ignore[attr-defined]


async def test_increment_of_a_non_integer_counter_names_the_key(store: ResourceStore) -> None:
    key = store.runtime_key("run-number")
    await store.put_raw(key, b"garbage")
    with pytest.raises(UnreadableObjectError, match="run-number"):
        await store.increment(key)


async def test_fenced_status_batches_stay_within_etcd_txn_limits(store: ResourceStore) -> None:
    lease_key = store.lease_key("controller")
    revision = await store.create_raw(lease_key, b"me")
    assert revision is not None
    fenced = store.with_fence(Fence(lease_key, revision))
    objs = [await store.create(widget(f"w{i}")) for i in range(130)]
    result = await fenced.update_status_many([with_phase(o, "Running") for o in objs])
    assert result.ok and all(r.status.phase == "Running" for r in result.written)
    assert len(result.written) == 130


async def test_status_batches_split_by_bytes(
    store: ResourceStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    from store import batched

    objs = [await store.create(widget(f"w{i}")) for i in range(6)]
    one = len(codec_encode(with_phase(objs[0], "Running")))
    monkeypatch.setattr(batched, "BATCH_BYTES", 2 * one)
    result = await store.update_status_many([with_phase(o, "Running") for o in objs])
    revisions = {r.metadata.resource_version for r in result.written}
    assert len(revisions) == 3  # two writes per txn
