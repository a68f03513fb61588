"""The etcd store's watch does not ask etcd for each event's previous value (prev_kv): etcd
sent every PUT's previous value too, which nothing reads (half the bytes of each watched write,
~3 of the ~25 us an informer spent on the echo of a status write, and a read of history per
event in etcd). A DELETE still carries the value it removed: read from history apart."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from aetcd import rpc

from store.etcd import convert
from store.etcd.aetcd_internals import Watcher
from store.etcd.backend import EtcdStore
from store.kv import KV, Delete, KVEvent, Put


@pytest.fixture
def create_requests(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every watch create request sent from here on."""
    sent: list[Any] = []
    original = Watcher._build_watch_create_request

    def recording(self: Watcher, *args: Any, **kwargs: Any) -> Any:
        request = original(self, *args, **kwargs)
        sent.append(request.create_request)
        return request

    monkeypatch.setattr(Watcher, "_build_watch_create_request", recording)
    return sent


async def test_a_watch_asks_no_previous_values_and_deletes_still_carry_theirs(
    etcd_store: EtcdStore, create_requests: list[Any]
) -> None:
    """130 keys written, then deleted in two txns: a watch from before the first write gets
    every PUT without a previous value from etcd, and every DELETE with the value it removed
    (read in txns of at most 128 ranges: etcd's --max-txn-ops)."""
    kv = etcd_store.kv
    prefix = etcd_store.prefix + "/gone/"
    keys = [f"{prefix}{i:03}" for i in range(130)]
    first = (await kv.txn([], [Put(keys[0], b"v0-first")])).revision
    for i, key in enumerate(keys):
        await kv.txn([], [Put(key, f"v{i}".encode())])
    await kv.txn([], [Delete(key) for key in keys[:100]])
    await kv.txn([], [Delete(key) for key in keys[100:]])
    deleted: dict[str, KV | None] = {}
    puts = 0
    watch: Any = kv.watch(prefix, start_revision=first, prefix=True)
    async with contextlib.aclosing(watch) as stream:
        async for event in stream:
            if event.type == "PUT":
                puts += 1
                assert event.prev is None
            elif event.type == "DELETE":
                deleted[event.kv.key] = event.prev
            if len(deleted) == len(keys):
                break
    assert puts == len(keys) + 1
    assert create_requests and not any(request.prev_kv for request in create_requests)
    assert list(deleted) == keys
    for i, key in enumerate(keys):
        prev = deleted[key]
        assert prev is not None and prev.key == key and prev.value == f"v{i}".encode()


def _range_answer(*kvs: Any) -> Any:
    response = rpc.TxnResponse()
    for found in kvs:
        item = response.responses.add().response_range
        if found is not None:
            item.kvs.add().CopyFrom(found)
    return response


def test_previous_values_are_read_per_key_at_the_revision_before_its_delete() -> None:
    events = convert.to_events(
        [
            rpc.Event(type=rpc.Event.DELETE, kv=rpc.KeyValue(key=b"/a", mod_revision=9)),
            rpc.Event(type=rpc.Event.PUT, kv=rpc.KeyValue(key=b"/b", value=b"x", mod_revision=9)),
            rpc.Event(type=rpc.Event.DELETE, kv=rpc.KeyValue(key=b"/c", mod_revision=12)),
        ]
    )
    deleted = convert.deleted_without_prev(events)
    assert [event.kv.key for event in deleted] == ["/a", "/c"]
    (request,) = convert.prev_requests(deleted)
    ranges = [op.request_range for op in request.success]
    assert [(r.key, r.revision, r.range_end) for r in ranges] == [(b"/a", 8, b""), (b"/c", 11, b"")]
    old = rpc.KeyValue(key=b"/a", value=b"old", mod_revision=5, create_revision=3, version=2)
    convert.fill_prev(deleted, [_range_answer(old, None)])  # /c: none (e.g. compacted)
    assert events[0] == KVEvent("DELETE", KV("/a", b"", 9, 0, 0, 0), KV("/a", b"old", 5, 3, 2), 9)
    assert events[1].prev is None and events[2].prev is None
    assert convert.deleted_without_prev(events) == [events[2]]


def test_many_deletes_are_read_in_txns_etcd_accepts() -> None:
    events = convert.to_events(
        [
            rpc.Event(type=rpc.Event.DELETE, kv=rpc.KeyValue(key=f"/k{i}".encode(), mod_revision=i))
            for i in range(2, 302)
        ]
    )
    requests = convert.prev_requests(convert.deleted_without_prev(events))
    assert [len(request.success) for request in requests] == [128, 128, 44]
    assert [op.request_range.revision for r in requests for op in r.success] == list(range(1, 301))
