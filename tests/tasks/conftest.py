"""Fixtures: etcd (session), the local cluster and the controller manager as real subprocesses."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from store.api import Store
from store.embedded import EmbeddedEtcd
from tests.mesos_fixture import LocalMesosProcess, localmesos_factory
from tests.stack import (
    ManagerProcess,
    Managers,
    manager_command,
    open_test_store,
    port_slice,
    start_cluster,
)

__all__ = ["cluster", "localmesos_factory", "manager_factory", "store"]

TASKS = ("controller.tasks.controller:TaskReconciler",)
SHUTDOWN_GRACE = ("--shutdown-grace", "1")


@pytest.fixture
async def store(etcd_server: EmbeddedEtcd) -> AsyncIterator[Store]:
    async with open_test_store(etcd_server.endpoint) as s:
        yield s


@pytest.fixture
def cluster(
    localmesos_factory: Callable[..., LocalMesosProcess], tmp_path: Path
) -> LocalMesosProcess:
    """One real agent (real executor subprocesses), fast timers. Its ports are a random slice:
    every local cluster on this machine shares 127.0.0.1, so equal ranges would collide."""
    base = port_slice(100)
    agents = f'- {{hostname: agent-0, resources: {{ports: "[{base}-{base + 99}]"}}}}\n'
    return start_cluster(localmesos_factory, tmp_path, agents, extra_args=SHUTDOWN_GRACE)


ManagerFactory = Callable[[], ManagerProcess]


@pytest.fixture
def manager_factory(
    etcd_server: EmbeddedEtcd, store: Store, cluster: LocalMesosProcess, tmp_path: Path
) -> Iterator[ManagerFactory]:
    args = manager_command(
        etcd=etcd_server.endpoint, prefix=store.prefix, mesos=cluster.address, controllers=TASKS
    )
    managers = Managers(args, log_path=tmp_path / "manager.log")
    try:
        yield managers.start
    finally:
        managers.stop_all()
