"""Closing an etcd client is bounded: a store close must return even when etcd died under a
watch stream (aetcd's close waits on that stream with no deadline)."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import pytest

from store.embedded import EmbeddedEtcd
from store.etcd import connection


async def test_closing_a_client_whose_watch_stream_is_stuck_returns_in_time(
    etcd_server: EmbeddedEtcd, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(connection, "CLOSE_TIMEOUT", 0.2)
    url = urlsplit(etcd_server.endpoint)
    assert url.hostname is not None and url.port is not None
    client = connection.Client(url.hostname, url.port, credentials=None)
    await client.connect()
    channel = client.channel
    never = asyncio.Event()

    async def stuck() -> None:
        await never.wait()

    monkeypatch.setattr(client._watcher, "shutdown", stuck)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await asyncio.wait_for(connection.close_quietly(client), 5)
    assert loop.time() - started < 1.5
    assert channel.get_state().name == "SHUTDOWN"  # the channel under it was closed all the same
