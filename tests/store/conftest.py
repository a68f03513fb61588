"""Fixtures of the store tests: `store`, the contract's subject, once per implementation."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from store.config import StoreConfig, open_store
from store.embedded import EmbeddedEtcd
from store.memory import MemoryStore
from store.resources import ResourceStore
from tests.etcd_fixture import unique_prefix


@pytest.fixture(params=["memory", "etcd"])
async def store(
    request: pytest.FixtureRequest, etcd_server: EmbeddedEtcd
) -> AsyncIterator[ResourceStore]:
    """The in-memory store and the etcd store under a unique prefix: every contract test runs
    against both, so the fake cannot drift from the real thing."""
    if request.param == "memory":
        yield MemoryStore(prefix=unique_prefix())
        return
    etcd = await open_store(StoreConfig(endpoints=(etcd_server.endpoint,), prefix=unique_prefix()))
    try:
        yield etcd
    finally:
        await etcd.close()
