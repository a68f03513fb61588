"""Fixtures: etcd (session), the local cluster and the controller manager as real subprocesses."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from store.api import Store
from store.config import StoreConfig, open_store
from store.embedded import EmbeddedEtcd
from tests.etcd_fixture import unique_prefix
from tests.mesos_fixture import LocalMesosProcess, localmesos_factory
from tests.tasks.harness import ManagerProcess

__all__ = ["cluster", "localmesos_factory", "manager_factory", "store"]

FAST_CLUSTER = (
    "--heartbeat-interval",
    "1",
    "--allocation-interval",
    "0.1",
    "--update-retry",
    "0.5",
    "--shutdown-grace",
    "1",
)


@pytest.fixture
async def store(etcd_server: EmbeddedEtcd) -> AsyncIterator[Store]:
    s = await open_store(StoreConfig(endpoints=(etcd_server.endpoint,), prefix=unique_prefix()))
    try:
        yield s
    finally:
        await s.close()


@pytest.fixture
def cluster(
    localmesos_factory: Callable[..., LocalMesosProcess], tmp_path: Path
) -> LocalMesosProcess:
    """One real agent (real executor subprocesses), fast timers. Its ports are a random slice:
    every local cluster on this machine shares 127.0.0.1, so equal ranges would collide."""
    base = random.randrange(20000, 29800, 100)
    agents = tmp_path / "agents.yaml"
    agents.write_text(f'- {{hostname: agent-0, resources: {{ports: "[{base}-{base + 99}]"}}}}\n')
    return localmesos_factory("--agents-file", str(agents), *FAST_CLUSTER)


ManagerFactory = Callable[[], ManagerProcess]


@pytest.fixture
def manager_factory(
    etcd_server: EmbeddedEtcd, store: Store, cluster: LocalMesosProcess, tmp_path: Path
) -> Iterator[ManagerFactory]:
    started: list[ManagerProcess] = []

    def start() -> ManagerProcess:
        proc = ManagerProcess(
            etcd=etcd_server.endpoint,
            prefix=store.prefix,
            mesos=cluster.address,
            log_path=tmp_path / "manager.log",
        )
        started.append(proc)
        return proc

    try:
        yield start
    finally:
        for proc in started:
            proc.stop()
