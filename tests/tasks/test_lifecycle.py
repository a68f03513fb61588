"""A standalone Task on the local cluster, with the real o2 executor and the real sample task."""

from __future__ import annotations

import os
from pathlib import Path

from controller.tasks.base import FINALIZER
from crds.kinds.task import Task
from store.api import Store
from tests.mesos_fixture import LocalMesosProcess
from tests.tasks.conftest import ManagerFactory
from tests.tasks.harness import TaskCheck, sample_task, set_state, wait_deleted, wait_task


def sandbox_stdout(cluster: LocalMesosProcess, mesos_task_id: str) -> str:
    found = list(Path(cluster.work_dir).rglob(f"{mesos_task_id}/stdout"))
    assert found, f"no sandbox for {mesos_task_id} under {cluster.work_dir}"
    return found[0].read_text()


def in_state(state: str) -> TaskCheck:
    return lambda t: t.status.phase == "Running" and t.status.state == state


async def test_standalone_task_launches_and_follows_desired_state(
    store: Store, cluster: LocalMesosProcess, manager_factory: ManagerFactory
) -> None:
    manager_factory()
    await store.create(sample_task("readout-1", properties={"rate": "42", "mode": "physics"}))
    running = await wait_task(store, "readout-1", in_state("STANDBY"))
    assert running.status.pid and running.status.agent_id and running.status.hostname
    assert FINALIZER in running.metadata.finalizers
    pid = running.status.pid

    for state in ("CONFIGURED", "RUNNING", "CONFIGURED", "STANDBY"):
        await set_state(store, "readout-1", state, run_number=7)
        task = await wait_task(store, "readout-1", in_state(state))
        assert task.status.pid == pid
        ready = [c for c in task.status.conditions if c.type == "Ready"]
        assert ready and ready[0].status == "True"

    assert task.status.mesos_task_id is not None
    log = sandbox_stdout(cluster, task.status.mesos_task_id)
    assert (
        "transition CONFIGURE -> CONFIGURED detector=TPC "
        'properties={"mode": "physics", "rate": "42"}' in log
    )
    assert "transition START -> RUNNING detector=TPC run_number=7" in log
    assert "transition STOP -> CONFIGURED" in log
    assert "transition RESET -> STANDBY" in log


async def test_deleting_a_task_kills_its_process_before_removing_it(
    store: Store, cluster: LocalMesosProcess, manager_factory: ManagerFactory
) -> None:
    manager_factory()
    await store.create(sample_task("doomed"))
    running = await wait_task(store, "doomed", in_state("STANDBY"))
    await store.delete(Task, "doomed")
    gone = await wait_task(
        store, "doomed", lambda t: t.status.phase in ("Killed", "Finished"), within=30
    )
    assert gone.status.pid == running.status.pid
    await wait_deleted(store, "doomed")
    assert running.status.pid is not None
    try:
        os.kill(running.status.pid, 0)
        alive = True
    except ProcessLookupError:
        alive = False
    assert not alive
