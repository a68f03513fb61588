"""Failures on the local cluster: a killed process, a crashed executor, a lost agent."""

from __future__ import annotations

import os
import signal

from store.api import Store
from tests.mesos_fixture import LocalMesosProcess
from tests.tasks.conftest import ManagerFactory
from tests.tasks.harness import sample_task, wait_event, wait_task, wait_tasks


def _standby(task: object) -> bool:
    status = task.status  # type: ignore[attr-defined]
    return bool(status.phase == "Running" and status.state == "STANDBY")


async def _wait_event(store: Store, name: str, reason: str) -> None:
    """Events are written asynchronously by the manager's recorder: watch for the one wanted."""
    await wait_event(store, name, reason)


async def test_killed_process_is_failed_with_its_signal_and_an_event(
    store: Store, cluster: LocalMesosProcess, manager_factory: ManagerFactory
) -> None:
    manager_factory()
    await store.create(sample_task("victim"))
    running = await wait_task(store, "victim", _standby)
    assert running.status.pid is not None
    os.kill(running.status.pid, signal.SIGKILL)
    failed = await wait_task(store, "victim", lambda t: t.status.phase == "Failed")
    assert failed.status.signal == signal.SIGKILL
    assert failed.status.state == "ERROR"
    stalled = [c for c in failed.status.conditions if c.type == "Stalled"]
    assert stalled and stalled[0].status == "True"
    await _wait_event(store, "victim", "TaskFailed")


async def test_executor_crash_never_leaves_its_tasks_running(
    store: Store, cluster: LocalMesosProcess, manager_factory: ManagerFactory
) -> None:
    manager_factory()
    names = ["orphan-a", "orphan-b"]
    for name in names:
        await store.create(sample_task(name))
    running = await wait_tasks(store, names, _standby)
    agent = running["orphan-a"].status.agent_id
    cluster.post(f"/localmesos/agents/{agent}/executors/o2-executor/kill")
    ended = await wait_tasks(store, names, lambda t: t.status.phase in ("Lost", "Failed"))
    assert {t.status.phase for t in ended.values()} <= {"Lost", "Failed"}
    for name in names:
        await _wait_event(store, name, f"Task{ended[name].status.phase}")


async def test_lost_agent_marks_its_tasks_lost(
    store: Store, cluster: LocalMesosProcess, manager_factory: ManagerFactory
) -> None:
    manager_factory()
    await store.create(sample_task("stranded"))
    running = await wait_task(store, "stranded", _standby)
    cluster.post(f"/localmesos/agents/{running.status.agent_id}/kill")
    lost = await wait_task(store, "stranded", lambda t: t.status.phase == "Lost")
    assert lost.status.reason
    ready = [c for c in lost.status.conditions if c.type == "Ready"]
    assert ready and ready[0].status == "False"
