"""A single `update` / `update_status` checks the bytes it writes, not its cached base, as a
batched write does (test_update_write_check): one encode per write, and a cached instance
mutated in place still never passes for what etcd holds."""

from __future__ import annotations

from store.resources import ResourceStore
from tests.store.widget import Widget, resized, widget

_set_attr = object.__setattr__


def phased(obj: Widget, phase: str) -> Widget:
    return obj.model_copy(update={"status": obj.status.model_copy(update={"phase": phase})})


async def test_an_update_and_a_status_write_on_a_cached_base_encode_once(
    store: ResourceStore, encodes: list[str]
) -> None:
    created = await store.create(widget("a"))
    encodes.clear()
    updated = await store.update(resized(created, 2))
    assert (updated.spec.size, updated.metadata.generation) == (2, 2)
    assert encodes == []  # was two (the base checked, then the write), then one: its spec
    # alone now, onto the bytes this store wrote for its base (splice.spec_spliced)
    encodes.clear()
    reported = await store.update_status(phased(updated, "Running"))
    assert reported.status.phase == "Running"
    assert encodes == []  # was one: its bytes are the update's up to the status, then its own
    stored = await store.get(Widget, "a")
    assert (stored.spec.size, stored.status.phase, stored.metadata.generation) == (2, "Running", 2)


async def test_an_update_never_writes_a_status_mutated_in_place(store: ResourceStore) -> None:
    """A spec write takes the bytes this store wrote for its base but the generation and the
    spec: a status changed in place since (by the caller, who holds the object) never
    reaches etcd."""
    created = await store.create(widget("a"))
    _set_attr(created.status, "phase", "Mutated")  # the cached object, changed in place
    written = await store.update(resized(created, 2))
    assert written.spec.size == 2
    stored = await store.get(Widget, "a")
    assert stored.status.phase == "" and (stored.spec.size, stored.metadata.generation) == (2, 2)


async def test_a_status_write_never_writes_a_spec_mutated_in_place(store: ResourceStore) -> None:
    """A status write takes the bytes this store wrote for its base up to the status: a spec
    changed in place since (by the caller, who holds the object) never reaches etcd."""
    created = await store.create(widget("a"))
    _set_attr(created.spec, "size", 7)  # the cached object, changed in place
    written = await store.update_status(phased(created, "Running"))
    assert written.status.phase == "Running"
    stored = await store.get(Widget, "a")
    assert (stored.spec.size, stored.status.phase, stored.metadata.generation) == (1, "Running", 1)


async def test_a_spec_mutated_in_place_to_the_callers_still_bumps_the_generation(
    store: ResourceStore,
) -> None:
    created = await store.create(widget("a"))
    _set_attr(created.spec, "size", 2)  # the merge would see no change of the spec
    await store.update(resized(created, 2))
    stored = await store.get(Widget, "a")
    assert (stored.spec.size, stored.metadata.generation) == (2, 2)


async def test_a_spec_mutated_in_place_away_from_the_callers_writes_nothing(
    store: ResourceStore,
) -> None:
    created = await store.create(widget("a"))
    _set_attr(created.spec, "size", 5)  # the merge would see a change; etcd holds the caller's
    written = await store.update(resized(created, 1))
    assert written.metadata.resource_version == created.metadata.resource_version
    stored = await store.get(Widget, "a")
    assert (stored.spec.size, stored.metadata.generation) == (1, 1)
    assert stored.metadata.resource_version == created.metadata.resource_version


async def test_a_status_write_that_changes_nothing_on_a_mutated_base_reads_etcd(
    store: ResourceStore,
) -> None:
    created = await store.create(widget("a"))
    _set_attr(created.status, "phase", "Running")  # looks like what the caller asks for
    written = await store.update_status(phased(created, "Running"))
    assert written.status.phase == "Running"
    stored = await store.get(Widget, "a")
    assert stored.status.phase == "Running"
    assert stored.metadata.resource_version != created.metadata.resource_version
