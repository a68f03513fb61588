"""Fixtures: the local cluster in the test's event loop (fast timers), or as a subprocess."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from localmesos import LocalCluster, Timers
from tests.localmesos.helpers import RawScheduler
from tests.mesos_fixture import localmesos, localmesos_factory

__all__ = ["cluster", "localmesos", "localmesos_factory", "scheduler"]

FAST = Timers(
    heartbeat_interval=5.0,
    allocation_interval=0.05,
    update_retry_initial=0.2,
    update_retry_max=1.0,
    executor_shutdown_grace=0.5,
    executor_registration_timeout=10.0,
)


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[LocalCluster]:
    """Two hollow agents, no real ones, fast timers."""
    async with LocalCluster(agents=0, hollow_agents=2, timers=FAST, work_dir=tmp_path) as c:
        yield c


@pytest.fixture
async def scheduler(cluster: LocalCluster) -> AsyncIterator[RawScheduler]:
    sched = RawScheduler(cluster.url)
    try:
        yield sched
    finally:
        await sched.close()
