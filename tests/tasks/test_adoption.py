"""Controller kill -9 while tasks run: the restarted controller adopts every task as it is."""

from __future__ import annotations

import time

import pytest

from crds.kinds.task import Task
from store.api import Store
from tests.mesos_fixture import LocalMesosProcess
from tests.tasks.conftest import ManagerFactory
from tests.tasks.harness import process_alive, sample_task, set_state, wait_tasks


async def _kill9_and_adopt(store: Store, manager_factory: ManagerFactory, count: int) -> float:
    """Kill -9 the controller with `count` tasks running, restart it, transition every task:
    each is adopted as it was (same pid and Mesos task, alive), none relaunched. The transitions
    must complete within the wait's bound; how long they took is returned for the log only
    (timing goals live in hack/bench)."""
    first = manager_factory()
    names = [f"adopt-{i}" for i in range(count)]
    for name in names:
        await store.create(sample_task(name))
    before = await wait_tasks(
        store,
        names,
        lambda t: t.status.phase == "Running" and t.status.state == "STANDBY",
        within=30 + count,
    )
    first.kill9()

    started = time.monotonic()
    manager_factory()
    for name in names:
        await set_state(store, name, "CONFIGURED")
    after = await wait_tasks(
        store,
        names,
        lambda t: t.status.phase == "Running" and t.status.state == "CONFIGURED",
        within=30 + count,
    )
    elapsed = time.monotonic() - started
    for name in names:
        old, new = before[name].status, after[name].status
        assert (new.pid, new.mesos_task_id) == (old.pid, old.mesos_task_id), name
        assert new.pid is not None and process_alive(new.pid)
    return elapsed


async def test_restarted_controller_adopts_running_tasks_with_same_pids(
    store: Store, cluster: LocalMesosProcess, manager_factory: ManagerFactory
) -> None:
    elapsed = await _kill9_and_adopt(store, manager_factory, 5)
    print(f"5 tasks adopted and transitioned {elapsed:.1f}s after restart")  # timing: no goal here
    listed = await store.list(Task)
    assert all(t.status.phase == "Running" for t in listed.items)


@pytest.mark.slow
async def test_restarted_controller_adopts_fifty_running_tasks(
    store: Store, cluster: LocalMesosProcess, manager_factory: ManagerFactory
) -> None:
    elapsed = await _kill9_and_adopt(store, manager_factory, 50)
    print(f"50 tasks adopted and transitioned {elapsed:.1f}s after restart")  # timing: no goal
    listed = await store.list(Task)
    assert len(listed.items) == 50 and all(t.status.phase == "Running" for t in listed.items)


async def test_standby_manager_takes_over_and_adopts_without_relaunching(
    store: Store, cluster: LocalMesosProcess, manager_factory: ManagerFactory
) -> None:
    leader = manager_factory()
    names = ["takeover-a", "takeover-b"]
    for name in names:
        await store.create(sample_task(name))
    before = await wait_tasks(
        store, names, lambda t: t.status.phase == "Running" and t.status.state == "STANDBY"
    )
    manager_factory()  # a standby: it must not subscribe while the leader lives
    leader.kill9()
    for name in names:
        await set_state(store, name, "RUNNING")
    after = await wait_tasks(
        store, names, lambda t: t.status.phase == "Running" and t.status.state == "RUNNING"
    )
    for name in names:
        assert after[name].status.pid == before[name].status.pid
        assert after[name].status.mesos_task_id == before[name].status.mesos_task_id
    stored = await store.get_raw(f"{store.prefix}/runtime/mesos/framework-id")  # type: ignore[attr-defined]
    assert stored is not None
    assert [f["id"] for f in cluster.state()["frameworks"]] == [stored.value.decode()]
