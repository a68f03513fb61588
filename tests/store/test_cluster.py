"""EtcdStore against a real 3-member etcd cluster on loopback: losing a member is survivable."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from store.config import StoreConfig, open_store
from store.embedded import EmbeddedEtcd, new_cluster
from tests.etcd_fixture import TEST_ETCD_ARGS, unique_prefix
from tests.store.changes import next_change
from tests.store.widget import Widget, widget


@pytest.fixture
def etcd_cluster(tmp_path: Path) -> Iterator[list[EmbeddedEtcd]]:
    """Three members started concurrently (each waits for quorum before it reports healthy)."""
    members = new_cluster(tmp_path, 3, extra_args=TEST_ETCD_ARGS)
    try:
        # launched from this thread: an etcd dies with the thread that spawned it
        for member in members:
            member.launch()
        for member in members:
            member.wait_ready()
        yield members
    finally:
        for member in members:
            member.stop_sync()


async def test_store_and_watch_survive_losing_the_member_in_use(
    etcd_cluster: list[EmbeddedEtcd],
) -> None:
    endpoints = tuple(m.endpoint for m in etcd_cluster)
    store = await open_store(StoreConfig(endpoints=endpoints, prefix=unique_prefix()))
    try:
        created = await store.create(widget("a"))
        start = (created.metadata.resource_version or 0) + 1
        stream = aiter(store.watch(Widget, start_revision=start))
        pending = asyncio.ensure_future(next_change(stream))
        await asyncio.sleep(0)  # let the watch register on the first member
        etcd_cluster[0].kill_sync()  # the endpoint the store is connected to
        second = await store.create(widget("b"))  # rotated to a live member, retried
        event = await asyncio.wait_for(pending, timeout=20)
        assert (event.type, event.name, event.revision) == (
            "ADDED",
            "b",
            second.metadata.resource_version,
        )
        assert [o.metadata.name for o in (await store.list(Widget)).items] == ["a", "b"]
        await stream.aclose()  # type: ignore[attr-defined]
    finally:
        await store.close()
