"""Closing an etcd client is bounded: a store close must return even when etcd died under a
watch stream (aetcd's close waits on that stream with no deadline)."""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import urlsplit

import pytest

from store.embedded import EmbeddedEtcd
from store.etcd import connection
from store.etcd.aetcd_internals import Client


async def test_closing_a_client_whose_watch_stream_is_stuck_returns_in_time(
    etcd_server: EmbeddedEtcd, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(connection, "CLOSE_TIMEOUT", 0.2)
    url = urlsplit(etcd_server.endpoint)
    assert url.hostname is not None and url.port is not None
    client = Client(url.hostname, url.port, credentials=None)
    await client.connect()
    channel = client.channel
    never = asyncio.Event()

    async def stuck() -> None:
        await never.wait()

    watcher = client.watcher()
    assert watcher is not None
    monkeypatch.setattr(watcher, "shutdown", stuck)
    with caplog.at_level(logging.WARNING, logger=connection.__name__):
        await asyncio.wait_for(connection.close_quietly(client), 5)  # 5: it did not hang
    (gave_up,) = [r for r in caplog.records if r.getMessage() == "Closing an etcd client timed out"]
    assert gave_up.__dict__["timeout"] == 0.2  # it gave up after its own bound, not later
    assert channel.get_state().name == "SHUTDOWN"  # the channel under it was closed all the same
