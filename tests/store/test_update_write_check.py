"""A batched update checks the bytes it writes, not its cached base: one encode per write (on
a base this store wrote, a spec write encodes its spec alone: splice.spec_spliced), and a
cached instance mutated in place still never passes for what etcd holds (its status rides
along in the write; its spec decides the generation and whether there is a write at all)."""

from __future__ import annotations

from crds.kinds.task import Task
from hack.bench.informer_bench import running_task
from store.memory import MemoryStore
from store.resources import ResourceStore
from tests.store.widget import Widget, resized, widget

_set_attr = object.__setattr__


async def test_an_update_on_a_cached_base_encodes_once(
    store: ResourceStore, encodes: list[str]
) -> None:
    objs = [await store.create(widget(f"w{i}", labels={"team": "a"})) for i in range(5)]
    encodes.clear()
    result = await store.update_many([resized(o, 2) for o in objs])
    assert (
        result.ok and [(w.spec.size, w.metadata.generation) for w in result.written] == [(2, 2)] * 5
    )
    assert encodes == []  # was two each (base checked, then write), then one: now the
    # spec alone, onto the bytes this store wrote for the base (splice.spec_spliced)
    again = await store.update_many([resized(w, 3) for w in result.written])
    assert again.ok and all(w.metadata.generation == 3 for w in again.written)


async def test_a_tasks_spec_write_after_its_status_write_encodes_once(
    encodes: list[str],
) -> None:
    """A real Task (dicts in its metadata and spec), as a transition writes it: the spec write
    the environment controller makes on the object the task controller's status write left."""
    store = MemoryStore()
    (created,) = (await store.create_many([running_task(1)])).written
    status = created.status.model_copy(update={"state": "CONFIGURED"})
    (reported,) = (
        await store.update_status_many([created.model_copy(update={"status": status})])
    ).written
    encodes.clear()
    spec = reported.spec.model_copy(update={"state": "CONFIGURED", "properties": {"a": "b"}})
    result = await store.update_many([reported.model_copy(update={"spec": spec})])
    assert result.ok and encodes == []  # its spec alone (splice.spec_spliced)
    (written,) = result.written
    assert written.metadata.generation == created.metadata.generation + 1
    assert await store.get(Task, created.name) == written


async def test_an_update_never_writes_a_status_mutated_in_place(store: ResourceStore) -> None:
    """The status of an update is its cached base's: one changed in place must not reach etcd
    (its bytes are those this store wrote for the base; the object returned is the caller's)."""
    created = await store.create(widget("a"))
    _set_attr(created.status, "phase", "Mutated")  # the cached object, changed in place
    result = await store.update_many([resized(created, 2)])
    assert result.ok
    (written,) = result.written
    assert written.spec.size == 2
    stored = await store.get(Widget, "a")
    assert stored.status.phase == "" and stored.spec.size == 2


async def test_a_spec_mutated_in_place_to_the_callers_still_bumps_the_generation(
    store: ResourceStore,
) -> None:
    """A cached base whose spec was changed in place to the caller's looks unchanged (with new
    labels: a metadata-only change); etcd holds the old spec, so the write bumps the generation."""
    plain = await store.create(widget("a"))
    labeled = await store.create(widget("b"))
    _set_attr(plain.spec, "size", 2)
    _set_attr(labeled.spec, "size", 2)
    relabeled = labeled.model_copy(
        update={"metadata": labeled.metadata.model_copy(update={"labels": {"team": "x"}})}
    )
    result = await store.update_many([resized(plain, 2), resized(relabeled, 2)])
    assert result.ok
    for name in ("a", "b"):
        stored = await store.get(Widget, name)
        assert (stored.spec.size, stored.metadata.generation) == (2, 2)
    assert (await store.get(Widget, "b")).metadata.labels == {"team": "x"}


async def test_a_spec_mutated_in_place_away_from_the_callers_writes_nothing(
    store: ResourceStore,
) -> None:
    """The caller asks for the spec etcd holds; its cached base's spec was changed in place, so
    the merge sees a change: the bytes show there is none, and the update is a no-op."""
    created = await store.create(widget("a"))
    _set_attr(created.spec, "size", 5)
    result = await store.update_many([resized(created, 1)])
    assert result.ok
    (written,) = result.written
    assert written.metadata.resource_version == created.metadata.resource_version
    stored = await store.get(Widget, "a")
    assert (stored.spec.size, stored.metadata.generation) == (1, 1)
    assert stored.metadata.resource_version == created.metadata.resource_version
