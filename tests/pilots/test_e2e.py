"""Pilots, drains, reclaim and release on the real stack: the local Mesos cluster with three
agents (epn-s1 stays sync; epn-a1, epn-a2 may be async), real o2 executors, sample pilots and
sample tasks, and the controller manager as a subprocess (tasks, nodes, environments, pilots)."""

from __future__ import annotations

import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from crds.errors import ConflictError
from crds.kinds.environment import Environment
from crds.kinds.event import Event
from crds.kinds.node import Node
from crds.kinds.task import Task
from crds.labels import PILOT_LABEL
from crds.manifest import parse_documents
from store.api import Store
from store.embedded import EmbeddedEtcd
from tests.mesos_fixture import LocalMesosProcess, localmesos_factory
from tests.pilots.jobs import accounting, add_jobs, read_status
from tests.stack import (
    SAMPLE_TASK,
    LocalMesosFactory,
    ManagerProcess,
    Managers,
    manager_command,
    open_test_store,
    port_slice,
    start_cluster,
    wait_for,
)
from tests.waiting import eventually

__all__ = ["localmesos_factory"]

CONTROLLERS = (
    "controller.tasks.controller:TaskReconciler",
    "controller.nodes.controller:NodeReconciler",
    "controller.environments.controller:EnvironmentReconciler",
    "controller.pilots.controller:PilotReconciler",
)
AGENT = """
- hostname: {name}
  resources: {{cpus: 1, mem: 1024, ports: "[{first}-{last}]"}}
  attributes: {{kind: epn}}"""
AGENT_NAMES = ("epn-s1", "epn-a1", "epn-a2")
FAST_PILOTS = {
    "O2_NODE_POLL_PERIOD": "0.5",
    "O2_PILOT_COOLDOWN": "2",
    "O2_PILOT_PENDING_AGE": "0.5",
    "O2_PILOT_BACKOFF_BASE": "1",
    "O2_PILOT_BACKOFF_MAX": "4",
}
MANIFESTS = """
apiVersion: o2/v1alpha1
kind: TaskClass
metadata: {name: pilot}
spec:
  control: basic
  pilot: true
  command:
    value: PYTHON
    arguments: ["-m", "executor.pilot", "--jobs", "JOBS", "--grace", "1.5", "--poll", "0.02"]
  wants: {cpus: 0.5, memory: 64}
---
apiVersion: o2/v1alpha1
kind: TaskClass
metadata: {name: worker}
spec:
  control: occ
  command: {value: SAMPLE_TASK}
  wants: {cpus: 0.6, memory: 64}
---
apiVersion: o2/v1alpha1
kind: Workflow
metadata: {name: epns}
spec:
  defaults: {epns: "2"}
  roles:
    - {name: epn, task: {class: worker}, replicas: "{{ epns }}"}
"""


@pytest.fixture
async def store(etcd_server: EmbeddedEtcd) -> AsyncIterator[Store]:
    async with open_test_store(etcd_server.endpoint) as s:
        yield s


@pytest.fixture
def cluster(localmesos_factory: LocalMesosFactory, tmp_path: Path) -> LocalMesosProcess:
    """Three agents of 20 ports each, on a random slice."""
    base = port_slice(60)
    agents = "".join(
        AGENT.format(name=name, first=base + 20 * i, last=base + 20 * i + 19)
        for i, name in enumerate(AGENT_NAMES)
    )
    return start_cluster(localmesos_factory, tmp_path, agents + "\n")


ManagerFactory = Callable[[], ManagerProcess]


@pytest.fixture
def manager_factory(
    etcd_server: EmbeddedEtcd, store: Store, cluster: LocalMesosProcess, tmp_path: Path
) -> Iterator[ManagerFactory]:
    args = manager_command(
        etcd=etcd_server.endpoint,
        prefix=store.prefix,
        mesos=cluster.address,
        controllers=CONTROLLERS,
    )
    managers = Managers(args, log_path=tmp_path / "manager.log", env=FAST_PILOTS)
    try:
        yield managers.start
    finally:
        managers.stop_all()


async def apply(store: Store, jobs: Path) -> None:
    text = MANIFESTS.replace("PYTHON", sys.executable).replace("JOBS", str(jobs))
    for doc in parse_documents(text.replace("SAMPLE_TASK", SAMPLE_TASK), source="test"):
        await store.create(doc)


async def set_mode(store: Store, node: str, mode: str) -> None:
    for _ in range(10):
        current = await store.get(Node, node)
        spec = current.spec.model_copy(update={"mode": mode})
        try:
            await store.update(current.model_copy(update={"spec": spec}))
            return
        except ConflictError:  # a status write raced us: read again
            continue
    raise AssertionError(f"could not set {node} to {mode}")


async def nodes_ready(store: Store) -> None:
    """Each test's first wait after the manager subprocess starts (imports, election, first
    list take seconds under load): the stack's 60 s bound."""
    for name in ("epn-s1", "epn-a1", "epn-a2"):
        await wait_for(store, Node, name, lambda n: n is not None and n.status.ready, within=60)


def pilot_running(task: Task | None) -> bool:
    return task is not None and task.status.phase == "Running"


def drained(node: Node | None) -> bool:
    return (
        node is not None and node.status.drain is not None and node.status.drain.seconds is not None
    )


async def pilots(store: Store) -> list[Task]:
    return [t for t in (await store.list(Task)).items if PILOT_LABEL in t.metadata.labels]


async def test_async_switch_starts_a_pilot_and_sync_switch_drains_it_without_losing_jobs(
    store: Store, manager_factory: ManagerFactory, tmp_path: Path
) -> None:
    jobs = tmp_path / "jobs"
    add_jobs(jobs, count=4, seconds=0.2, prefix="short")
    add_jobs(jobs, count=1, seconds=120, prefix="zlong")
    manager_factory()
    await apply(store, jobs)
    await nodes_ready(store)
    switched = time.monotonic()
    await set_mode(store, "epn-a1", "async")
    await wait_for(store, Task, "pilot-epn-a1", lambda t: t is not None, within=5)
    created = time.monotonic() - switched
    await wait_for(store, Task, "pilot-epn-a1", pilot_running, within=30)
    print(f"pilot created {created:.2f}s, running {time.monotonic() - switched:.2f}s after switch")
    await eventually(lambda: accounting(jobs)["done"] == 4, within=30)
    await eventually(lambda: read_status(jobs, "pilot-epn-a1").get("running") == ["zlong-0"])

    await set_mode(store, "epn-a1", "sync")
    node = await wait_for(store, Node, "epn-a1", drained, within=30)
    assert node is not None and node.status.drain is not None
    assert node.status.drain.reason == "ModeSync" and node.status.pilot is None
    print(f"drain took {node.status.drain.seconds}s (pilot grace 1.5s)")
    assert await pilots(store) == []
    assert accounting(jobs) == {"queue": 1, "running": 0, "done": 4, "total": 5}
    status = read_status(jobs, "pilot-epn-a1")
    assert status["state"] == "drained" and status["requeued"] == 1


async def test_environment_short_of_one_node_reclaims_exactly_one_and_releases_it_after_done(
    store: Store, manager_factory: ManagerFactory, tmp_path: Path
) -> None:
    jobs = tmp_path / "jobs"
    manager_factory()
    await apply(store, jobs)
    await nodes_ready(store)
    for name in ("epn-a1", "epn-a2"):
        await set_mode(store, name, "async")
    for name in ("epn-a1", "epn-a2"):
        await wait_for(store, Task, f"pilot-{name}", pilot_running, within=30)

    (env,) = parse_documents(
        "apiVersion: o2/v1alpha1\nkind: Environment\nmetadata: {name: fill}\n"
        "spec: {workflow: epns, state: RUNNING, reclaim: Auto}\n",
        source="test",
    )
    created = time.monotonic()
    await store.create(env)

    def running(e: Environment | None) -> bool:
        return e is not None and e.status.state == "RUNNING" and e.status.transition is None

    await wait_for(store, Environment, "fill", running, within=90)
    print(f"environment RUNNING with a reclaimed node {time.monotonic() - created:.2f}s")
    nodes = {n.name: n for n in (await store.list(Node)).items}
    reclaimed = [n for n in nodes.values() if n.status.reclaim is not None]
    assert len(reclaimed) == 1
    taken = reclaimed[0]
    assert taken.status.reclaim is not None and taken.status.reclaim.environment == "fill"
    assert taken.status.reclaim.phase == "Reclaimed"
    other = "epn-a2" if taken.name == "epn-a1" else "epn-a1"
    fill = await store.get(Environment, "fill")
    assert fill.status.reclaimed_nodes == (taken.name,)
    assert [t.name for t in await pilots(store)] == [f"pilot-{other}"]
    hosts = sorted(
        t.status.hostname or "" for t in (await store.list(Task)).items if t.spec.environment
    )
    assert hosts == sorted(["epn-s1", taken.name])

    current = await store.get(Environment, "fill")
    spec = current.spec.model_copy(update={"state": "DONE"})
    await store.update(current.model_copy(update={"spec": spec}))

    def released(n: Node | None) -> bool:
        return n is not None and n.status.reclaim is None

    done = time.monotonic()
    await wait_for(store, Node, taken.name, released, within=60)
    await wait_for(store, Task, f"pilot-{taken.name}", pilot_running, within=30)
    assert (await store.get(Environment, "fill")).status.reclaimed_nodes == ()
    print(f"pilot back {time.monotonic() - done:.2f}s after DONE (cool-down 2s)")


async def test_controller_killed_during_a_drain_finishes_it_without_a_second_pilot(
    store: Store, manager_factory: ManagerFactory, tmp_path: Path
) -> None:
    jobs = tmp_path / "jobs"
    add_jobs(jobs, count=3, seconds=120)
    first = manager_factory()
    await apply(store, jobs)
    await nodes_ready(store)
    await set_mode(store, "epn-a1", "async")
    await wait_for(store, Task, "pilot-epn-a1", pilot_running, within=30)
    await eventually(lambda: len(read_status(jobs, "pilot-epn-a1").get("running", [])) == 1)

    await set_mode(store, "epn-a1", "sync")

    def draining(n: Node | None) -> bool:
        return n is not None and n.status.drain is not None and n.status.drain.finished_at is None

    await wait_for(store, Node, "epn-a1", draining, within=10)
    first.kill9()
    manager_factory()
    node = await wait_for(store, Node, "epn-a1", drained, within=60)
    assert node is not None and node.status.pilot is None
    assert await pilots(store) == []
    assert accounting(jobs) == {"queue": 3, "running": 0, "done": 0, "total": 3}
    status = read_status(jobs, "pilot-epn-a1")
    assert status["state"] == "drained" and status["claimed"] == status["requeued"] == 1


async def test_scaling_up_while_running_reclaims_and_scaling_down_releases(
    store: Store, manager_factory: ManagerFactory, tmp_path: Path
) -> None:
    manager_factory()
    await apply(store, tmp_path / "jobs")
    await nodes_ready(store)
    for name in ("epn-a1", "epn-a2"):
        await set_mode(store, name, "async")
    for name in ("epn-a1", "epn-a2"):
        await wait_for(store, Task, f"pilot-{name}", pilot_running, within=30)
    (env,) = parse_documents(
        "apiVersion: o2/v1alpha1\nkind: Environment\nmetadata: {name: fill}\n"
        "spec: {workflow: epns, state: RUNNING, reclaim: Auto, vars: {epns: '1'}}\n",
        source="test",
    )
    await store.create(env)

    def running(count: int) -> Callable[[Environment | None], bool]:
        return lambda e: e is not None and e.status.task_counts.get("RUNNING") == count

    await wait_for(store, Environment, "fill", running(1), within=60)
    assert await reclaimed(store) == []

    await scale(store, "2")
    await wait_for(store, Environment, "fill", running(2), within=60)
    (taken,) = await reclaimed(store)
    assert (await store.get(Task, "fill-epn-1")).status.hostname == taken

    await scale(store, "1")
    await wait_for(store, Node, taken, lambda n: n is not None and not n.status.reclaim, within=60)
    await wait_for(store, Task, f"pilot-{taken}", pilot_running, within=30)
    events = [e for e in (await store.list(Event)).items if e.spec.involved_object.name == "fill"]
    assert {"Reclaiming", "Reclaimed", "Released"} <= {e.spec.reason for e in events}


async def reclaimed(store: Store) -> list[str]:
    return [n.name for n in (await store.list(Node)).items if n.status.reclaim is not None]


async def scale(store: Store, epns: str) -> None:
    current = await store.get(Environment, "fill")
    spec = current.spec.model_copy(update={"vars": {"epns": epns}})
    await store.update(current.model_copy(update={"spec": spec}))


FAILING_PILOT = """
apiVersion: o2/v1alpha1
kind: TaskClass
metadata: {name: pilot}
spec:
  control: basic
  pilot: true
  command: {value: PYTHON, arguments: ["-c", "import sys; sys.exit(3)"]}
  wants: {cpus: 0.5, memory: 64}
"""


async def test_pilot_that_fails_at_start_is_restarted_after_a_growing_back_off(
    store: Store, manager_factory: ManagerFactory
) -> None:
    manager_factory()
    for doc in parse_documents(FAILING_PILOT.replace("PYTHON", sys.executable), source="test"):
        await store.create(doc)
    await nodes_ready(store)
    await set_mode(store, "epn-a1", "async")

    def ended(times: int) -> Callable[[Node | None], bool]:
        return lambda n: (
            n is not None and n.status.backoff is not None and (n.status.backoff.failures >= times)
        )

    node = await wait_for(store, Node, "epn-a1", ended(3), within=30)
    assert node is not None and node.status.backoff is not None
    record = node.status.backoff
    assert record.failures == 3 and record.phase == "Failed" and record.detail == "exit code 3"
    assert record.ended_at is not None and record.not_before is not None
    assert (record.not_before - record.ended_at).total_seconds() == 4  # 1, 2, then 4 s
    cond = next(c for c in node.status.conditions if c.type == "Pilot")
    assert cond.reason == "BackOff" and "ended 3 times in a row" in cond.message
    assert "next start in 4s" in cond.message

    def fourth(t: Task | None) -> bool:
        return t is not None and t.metadata.uid != record.pilot_uid

    pilot = await wait_for(store, Task, "pilot-epn-a1", fourth, within=15)
    assert pilot is not None and pilot.metadata.creation_timestamp is not None
    assert pilot.metadata.creation_timestamp >= record.not_before
    events = [e for e in (await store.list(Event)).items if e.spec.involved_object.name == "epn-a1"]
    backoffs = [e for e in events if e.spec.reason == "BackOff"]
    assert backoffs and all(e.spec.type == "Warning" for e in backoffs)
    assert "PilotDrained" not in {e.spec.reason for e in events}  # an end is not a drain
    assert (await store.get(Node, "epn-a1")).status.drain is None
