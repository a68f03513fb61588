"""The etcd store's watch reads each etcd response's events straight from the protobuf message,
one list per response: aetcd's per-event Event and KeyValue objects (and a queue hop for each)
were a quarter of what an informer spent on each watched write."""

from __future__ import annotations

import dataclasses
from typing import Any

import aetcd.rtypes
import pytest
from aetcd import rpc

from store.etcd.backend import EtcdStore
from store.etcd.convert import to_events
from store.kv import KV, KVEvent
from tests.store.widget import Widget, widget


@pytest.fixture
def aetcd_events(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every aetcd watch Event built from here on."""
    built: list[Any] = []
    original = aetcd.rtypes.Event.__init__

    def counting(self: Any, *args: Any, **kwargs: Any) -> None:
        built.append(self)
        original(self, *args, **kwargs)

    monkeypatch.setattr(aetcd.rtypes.Event, "__init__", counting)
    return built


async def test_watched_writes_reach_the_store_without_aetcd_event_objects(
    etcd_store: EtcdStore, aetcd_events: list[Any]
) -> None:
    first = await etcd_store.create(widget("a"))
    start = first.metadata.resource_version or 0
    created = await etcd_store.create_many([widget(f"b{i}") for i in range(5)])
    assert created.ok
    await etcd_store.delete(Widget, "a")
    seen: list[tuple[str, str, int]] = []
    stream = etcd_store.watch(Widget, start_revision=start)
    async for event in stream:
        seen.append((event.type, event.name, event.revision))
        if len(seen) == 7:
            break
    await stream.aclose()  # type: ignore[attr-defined]
    assert [(kind, name) for kind, name, _ in seen] == [
        ("ADDED", "a"),
        *[("ADDED", f"b{i}") for i in range(5)],  # one txn: one response, one revision
        ("DELETED", "a"),
    ]
    assert len({revision for _, name, revision in seen if name.startswith("b")}) == 1
    assert aetcd_events == []


def _kv(key: bytes, value: bytes, revision: int, *, created: int = 1) -> Any:
    return rpc.KeyValue(
        key=key, value=value, mod_revision=revision, create_revision=created, version=2, lease=7
    )


def test_a_delete_carries_the_deleted_value_and_a_put_none() -> None:
    put = rpc.Event(type=rpc.Event.PUT, kv=_kv(b"/k", b"new", 5), prev_kv=_kv(b"/k", b"old", 4))
    deleted = rpc.Event(
        type=rpc.Event.DELETE, kv=_kv(b"/k", b"", 6, created=0), prev_kv=_kv(b"/k", b"new", 5)
    )
    compacted = rpc.Event(type=rpc.Event.DELETE, kv=_kv(b"/j", b"", 7, created=0))
    assert to_events([put, deleted, compacted]) == [
        KVEvent("PUT", KV("/k", b"new", 5, 1, 2, 7), None, 5),
        KVEvent("DELETE", KV("/k", b"", 6, 0, 2, 7), KV("/k", b"new", 5, 1, 2, 7), 6),
        KVEvent("DELETE", KV("/j", b"", 7, 0, 2, 7), None, 7),
    ]


def test_events_built_slot_by_slot_are_whole_frozen_values() -> None:
    """to_events fills each KV and KVEvent slot by slot (not through their constructors): what
    it builds is equal, hashes and reads as the constructed ones, and stays frozen."""
    put = rpc.Event(type=rpc.Event.PUT, kv=_kv(b"/k", b"v", 9))
    (event,) = to_events([put])
    built = KVEvent("PUT", KV("/k", b"v", 9, 1, 2, 7), None, 9)
    assert event == built and hash(event) == hash(built) and repr(event) == repr(built)
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.kv.value = b"changed"  # type: ignore[misc]
