"""Contract of Store.update_many on both stores: batched spec writes, same rules as update."""

from __future__ import annotations

import pytest

from crds.errors import FencedError, NotFoundError, O2Error
from store.api import Fence
from store.resources import ResourceStore
from tests.store.widget import Widget, WidgetStatus, widget


def resized(obj: Widget, size: int) -> Widget:
    return obj.model_copy(update={"spec": obj.spec.model_copy(update={"size": size})})


def relabeled(obj: Widget, **labels: str) -> Widget:
    return obj.model_copy(update={"metadata": obj.metadata.model_copy(update={"labels": labels})})


def with_meta(obj: Widget, **fields: object) -> Widget:
    return obj.model_copy(update={"metadata": obj.metadata.model_copy(update=fields)})


async def test_update_many_bumps_generation_only_on_spec_change_and_skips_no_ops(
    store: ResourceStore,
) -> None:
    a, b, c = [await store.create(widget(n)) for n in "abc"]
    result = await store.update_many([resized(a, 7), relabeled(b, team="x"), c])
    assert result.ok
    wa, wb, wc = result.written
    assert isinstance(wa, Widget) and (wa.spec.size, wa.metadata.generation) == (7, 2)
    assert isinstance(wb, Widget) and (wb.metadata.labels, wb.metadata.generation) == (
        {"team": "x"},
        1,
    )
    assert wc == c  # nothing changed: not written, same resourceVersion
    assert wa.metadata.resource_version == wb.metadata.resource_version  # one txn
    assert await store.get(Widget, "a") == wa
    assert await store.get(Widget, "b") == wb


async def test_update_many_keeps_status_and_ignores_the_callers_status(
    store: ResourceStore,
) -> None:
    created = await store.create(widget("a"))
    running = await store.update_status(
        created.model_copy(update={"status": WidgetStatus(phase="Running")})
    )
    stale_status = resized(running, 3).model_copy(update={"status": WidgetStatus(phase="X")})
    [written] = (await store.update_many([stale_status])).written
    assert (written.spec.size, written.status.phase) == (3, "Running")


async def test_update_many_reports_conflicts_and_missing_objects_per_item(
    store: ResourceStore,
) -> None:
    objs = [await store.create(widget(f"w{i}")) for i in range(4)]
    await store.update(resized(objs[1], 5))  # objs[1] is now stale
    await store.delete(Widget, "w3")
    wanted = [resized(o, 9) for o in objs]
    result = await store.update_many(wanted)
    assert result.conflicts == [wanted[1]]
    assert result.missing == [wanted[3]]
    assert result.errors == []
    assert [(w.name, w.spec.size) for w in result.written] == [("w0", 9), ("w2", 9)]
    assert result.revision == max(w.metadata.resource_version or 0 for w in result.written)
    sizes = {o.metadata.name: o.spec.size for o in (await store.list(Widget)).items}
    assert sizes == {"w0": 9, "w1": 5, "w2": 9}


async def test_update_many_falls_back_per_item_when_a_batch_compare_fails(
    store: ResourceStore,
) -> None:
    """A write sneaking in between the read and the txn fails the whole batch's compare; each
    item then gets what its own update would give."""
    objs = [await store.create(widget(f"w{i}")) for i in range(3)]
    stale = objs[1]
    # last-write-wins item (no resourceVersion): read fresh, so only its batch compare can fail
    unversioned = with_meta(resized(objs[2], 4), resource_version=None)
    original = store._stored_many
    theirs = ResourceStore(store.backend, prefix=store.prefix)  # another writer: its own cache

    async def racing(batch: list[Widget], keys: list[str], **kw: bool) -> list[Widget | O2Error]:
        stored = await original(batch, keys, **kw)
        await theirs.update(resized(stale, 6))
        await theirs.update(resized(objs[2], 8))
        return stored

    store._stored_many = racing  # type: ignore[method-assign, assignment]
    result = await store.update_many([resized(objs[0], 2), resized(stale, 3), unversioned])
    store._stored_many = original  # type: ignore[method-assign]
    assert [(w.name, w.spec.size) for w in result.written] == [("w0", 2), ("w2", 4)]
    assert [c.name for c in result.conflicts] == ["w1"]


async def test_update_many_batches_beyond_one_txn(store: ResourceStore) -> None:
    objs = [await store.create(widget(f"w{i}")) for i in range(200)]
    result = await store.update_many([resized(o, 2) for o in objs])
    assert result.ok and len(result.written) == 200
    assert all(r.metadata.generation == 2 for r in result.written)
    revisions = {r.metadata.resource_version for r in result.written}
    assert len(revisions) == 2  # 128 + 72: two txns


async def test_update_many_keeps_each_objects_lease(store: ResourceStore) -> None:
    lease = await store.grant_lease(60)
    created = await store.create(widget("a"), lease=lease)
    await store.update_many([resized(created, 2)])
    await store.revoke_lease(lease)
    with pytest.raises(NotFoundError):
        await store.get(Widget, "a")


async def test_update_many_removing_the_last_finalizer_of_a_deleted_object_removes_it(
    store: ResourceStore,
) -> None:
    created = await store.create(widget("a", finalizers=("o2/keep",)))
    marked = await store.delete(Widget, "a")
    assert marked is not None and marked.metadata.deletion_timestamp is not None
    other = await store.create(widget("b"))
    result = await store.update_many([with_meta(marked, finalizers=()), resized(other, 3)])
    assert result.written[-1].name == "b" and result.written[-1].spec.size == 3
    with pytest.raises(NotFoundError):
        await store.get(Widget, created.metadata.name)


async def test_fenced_update_many_is_rejected_once_the_fence_is_lost(
    store: ResourceStore,
) -> None:
    lease_key = store.lease_key("controller")
    revision = await store.create_raw(lease_key, b"me")
    assert revision is not None
    fenced = store.with_fence(Fence(lease_key, revision))
    objs = [await store.create(widget(f"w{i}")) for i in range(130)]
    result = await fenced.update_many([resized(o, 2) for o in objs])
    assert result.ok and len(result.written) == 130  # 127 + 3 within etcd's txn limit
    await store.delete_raw(lease_key)
    await store.create_raw(lease_key, b"someone-else")
    fresh = result.written
    with pytest.raises(FencedError):
        await fenced.update_many([resized(o, 3) for o in fresh])
    assert (await store.get(Widget, "w0")).spec.size == 2


async def test_a_batched_status_write_names_each_key_once(
    store: ResourceStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The key of each object is built once per batched write (it was built for the read of
    the stored copy and again for the put)."""
    objs = [await store.create(widget(f"w{i}")) for i in range(20)]
    keys: list[str] = []
    real = store.key_for

    def counting(kind: type[Widget], name: str) -> str:
        keys.append(name)
        return real(kind, name)

    monkeypatch.setattr(store, "key_for", counting)
    result = await store.update_status_many(
        [o.model_copy(update={"status": WidgetStatus(phase="Ready")}) for o in objs]
    )
    assert result.ok and len(result.written) == 20
    assert sorted(keys) == sorted(o.name for o in objs)
