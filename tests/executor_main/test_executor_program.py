"""The real o2 executor under the real local cluster, driven by o2's SchedulerClient."""

from __future__ import annotations

import pytest

from mesosapi.scheduler import Update
from tests.executor_main.helpers import (
    EXECUTOR_ID,
    Scheduler,
    is_update,
    sandbox_of,
    scheduler,
    status_data,
)
from tests.mesos_fixture import LocalMesosFactory, LocalMesosProcess

pytestmark = pytest.mark.timeout(120)

CLUSTER_ARGS = ("--agents", "1", "--heartbeat-interval", "1", "--allocation-interval", "0.1")


@pytest.fixture
def cluster(localmesos_factory: LocalMesosFactory) -> LocalMesosProcess:
    return localmesos_factory(*CLUSTER_ARGS, "--shutdown-grace", "4")


async def _running(sched: Scheduler, names: tuple[str, ...]) -> dict[str, int]:
    """Launch `names` in one ACCEPT; their pids once all are TASK_RUNNING."""
    await sched.launch(names)
    pids = {}
    for name in names:
        running = await sched.wait_for(Update, is_update(name, "TASK_RUNNING"))
        data = status_data(running)
        assert data.state == "STANDBY" and data.pid is not None
        pids[name] = data.pid
    return pids


async def test_two_tasks_run_in_one_executor_after_standby_and_are_reported(
    cluster: LocalMesosProcess,
) -> None:
    async with scheduler(cluster.address) as sched:
        pids = await _running(sched, ("t1", "t2"))

        for name in ("t1", "t2"):
            assert sched.updates(name)[:2] == ["TASK_STARTING", "TASK_RUNNING"]
        executors = {e.status.executor_id for e in sched.events if isinstance(e, Update)}
        assert executors == {EXECUTOR_ID}
        assert len({sandbox_of(pid).parent for pid in pids.values()}) == 1

        first = await sched.report()
        later = await sched.report(newer_than=first.sequence)
        rows = {row.task_id: (row.phase, row.state, row.pid) for row in later.tasks}
        assert rows == {
            "t1": ("running", "STANDBY", pids["t1"]),
            "t2": ("running", "STANDBY", pids["t2"]),
        }
