"""Fixtures of the store tests: `store`, the contract's subject, once per implementation."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from crds.resource import Resource
from store import codec
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


@pytest.fixture
def encodes(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The name of every object the store encodes from here on."""
    calls: list[str] = []
    encode, unstamped = codec.encode, codec.encode_unstamped

    def counted(obj: Resource) -> bytes:
        calls.append(obj.metadata.name)
        return encode(obj)

    def counted_unstamped(obj: Resource) -> bytes:
        calls.append(obj.metadata.name)
        return unstamped(obj)

    monkeypatch.setattr(codec, "encode", counted)
    monkeypatch.setattr(codec, "encode_unstamped", counted_unstamped)
    yield calls
