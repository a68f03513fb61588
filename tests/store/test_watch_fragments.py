"""A watch far behind gets up to 1,000 revisions in one etcd response: past the gRPC channel's
message limit, the stream broke and every watch on it asked again from the same revision (the
50,000-task benchmark on a loaded machine: a 79 MB response, a 64 MB limit, the manager
stalled). The watch asks etcd to split such a response into parts and joins them."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest

from store.config import StoreConfig, open_store
from store.etcd import backend
from store.etcd.aetcd_internals import Watcher
from store.kv import Put
from tests.etcd_fixture import EmbeddedEtcd, unique_prefix

LIMIT = 3 * 1024 * 1024
"""The channel's receive limit in this test (64 MiB in o2): etcd's parts are 1.5 MiB at most."""

VALUE = 100 * 1024
COUNT = 60
"""60 writes of 100 KB: one 6 MB response to a watch from before the first."""


async def test_a_response_past_the_channel_limit_arrives_whole_and_in_order(
    etcd_server: EmbeddedEtcd, monkeypatch: pytest.MonkeyPatch
) -> None:
    options = {**backend._CHANNEL_OPTIONS, "grpc.max_receive_message_length": LIMIT}
    monkeypatch.setattr(backend, "_CHANNEL_OPTIONS", options)
    store = await open_store(StoreConfig(endpoints=(etcd_server.endpoint,), prefix=unique_prefix()))
    try:
        kv = store.kv
        key = store.prefix + "/big/"
        revisions = [
            (await kv.txn([], [Put(f"{key}{i:03}", bytes([65 + i % 26]) * VALUE)])).revision
            for i in range(COUNT)
        ]
        seen: list[str] = []
        watch = kv.watch(key, start_revision=revisions[0], prefix=True)
        async with contextlib.aclosing(watch) as stream, asyncio.timeout(30):
            async for event in stream:
                if event.type == "PUT":
                    assert len(event.kv.value) == VALUE
                    seen.append(event.kv.key)
                if len(seen) == COUNT:
                    break
        assert seen == [f"{key}{i:03}" for i in range(COUNT)]
    finally:
        await store.close()


async def test_a_split_response_reaches_a_store_watch_without_being_copied_whole(
    etcd_server: EmbeddedEtcd, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store's watches take each response's events as one list read from the messages:
    the parts' events are read where they are, never copied into one joined message first
    (a sixth of what a watch far behind spent per event)."""
    joined: list[object] = []
    original = Watcher._joined

    def recording(self: Watcher, *args: Any) -> Any:
        joined.append(args)
        return original(self, *args)

    monkeypatch.setattr(Watcher, "_joined", recording)
    store = await open_store(StoreConfig(endpoints=(etcd_server.endpoint,), prefix=unique_prefix()))
    try:
        kv = store.kv
        key = store.prefix + "/big/"
        first = 0
        for i in range(COUNT // 2):
            revision = (
                await kv.txn([], [Put(f"{key}{i:03}", bytes([65 + i % 26]) * VALUE)])
            ).revision
            first = first or revision
        seen: list[tuple[str, int]] = []
        watch = kv.watch(key, start_revision=first, prefix=True)
        async with contextlib.aclosing(watch) as stream, asyncio.timeout(30):
            async for event in stream:
                seen.append((event.kv.key, len(event.kv.value)))
                if len(seen) == COUNT // 2:
                    break
        assert seen == [(f"{key}{i:03}", VALUE) for i in range(COUNT // 2)]
        assert joined == []
    finally:
        await store.close()
