"""A batched status write checks the bytes it writes, not its cached base: one encode per write,
and a cached instance mutated in place still never passes for what etcd holds."""

from __future__ import annotations

import pytest

from store import codec
from store.resources import ResourceStore
from tests.store.widget import Widget, WidgetStatus, widget

_set_attr = object.__setattr__


def with_phase(obj: Widget, phase: str) -> Widget:
    return obj.model_copy(update={"status": WidgetStatus(phase=phase)})


async def test_a_status_write_on_a_cached_base_encodes_once(
    store: ResourceStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    objs = [await store.create(widget(f"w{i}", labels={"team": "a"})) for i in range(5)]
    encodes: list[str] = []
    encode, unstamped = codec.encode, codec.encode_unstamped

    def counted(obj: Widget) -> bytes:
        encodes.append(obj.name)
        return encode(obj)

    def counted_unstamped(obj: Widget) -> bytes:
        encodes.append(obj.name)
        return unstamped(obj)

    monkeypatch.setattr(codec, "encode", counted)
    monkeypatch.setattr(codec, "encode_unstamped", counted_unstamped)
    result = await store.update_status_many([with_phase(o, "Running") for o in objs])
    assert result.ok and [w.status.phase for w in result.written] == ["Running"] * 5
    assert encodes == []  # was one each (two before that): the status spliced onto own bytes
    monkeypatch.undo()
    again = await store.update_status_many([with_phase(w, "Done") for w in result.written])
    assert again.ok  # the written objects are cached bases that pass


async def test_a_status_write_never_writes_a_base_mutated_in_place(store: ResourceStore) -> None:
    """The mutated labels of a cached base never ride along in its status write's metadata:
    the write's bytes up to the status are those this store wrote for the base."""
    created = await store.create(widget("a", labels={"team": "a"}))
    created.metadata.labels["team"] = "x"  # dicts inside frozen models are still mutable
    result = await store.update_status_many([with_phase(created, "Running")])
    assert result.ok
    (written,) = result.written
    assert written.status.phase == "Running"
    stored = await store.get(Widget, "a")
    assert stored.metadata.labels == {"team": "a"} and stored.status.phase == "Running"


async def test_a_status_mutated_in_place_is_no_unchanged_write(store: ResourceStore) -> None:
    """A cached base whose status was changed in place to what the caller asks for must not
    make the write a no-op: etcd holds the status before the change."""
    created = await store.create(widget("a"))
    (running,) = (await store.update_status_many([with_phase(created, "Running")])).written
    _set_attr(running.status, "phase", "Done")  # the cached object, changed in place
    result = await store.update_status_many([with_phase(running, "Done")])
    assert result.ok
    assert (await store.get(Widget, "a")).status.phase == "Done"
    assert result.written[0].metadata.resource_version != running.metadata.resource_version


def test_the_object_cache_keeps_every_task_of_fifty_thousand() -> None:
    """An evicted entry is a read and a whole decode for the next write or watch event of that
    object: the cache must hold a whole large deployment (at 20,000 entries, a 50,000-task
    manager missed on most of its writes): a watched kind's keys are all kept."""
    from store.rawkv import ObjectCache

    cache = ObjectCache()
    cache.hold("/o2/registry/tasks/")
    base = codec.set_revision(widget("w"), 1)
    raw = codec.encode(base)
    keys = [f"/o2/registry/tasks/t{i}" for i in range(60_000)]
    for key in keys:
        cache.put(key, base, raw)
    assert cache.get(keys[0], 1) is base
    assert cache.base_for(keys[0], raw) is not None
