"""Tasks that fit no agent stay Pending and say why, in a condition and an Event."""

from __future__ import annotations

from crds.kinds.common import Constraint
from crds.kinds.node import Node, NodeSpec
from crds.kinds.task import Task
from crds.meta import ObjectMeta
from store.api import Store
from tests.mesos_fixture import LocalMesosProcess
from tests.tasks.conftest import ManagerFactory
from tests.tasks.harness import sample_task, wait_event, wait_task


def _unschedulable(task: Task) -> str:
    for cond in task.status.conditions:
        if cond.type == "Scheduled" and cond.status == "False":
            return cond.message
    return ""


async def test_constraint_and_resource_misfits_stay_pending_with_a_clear_reason(
    store: Store, cluster: LocalMesosProcess, manager_factory: ManagerFactory
) -> None:
    manager_factory()
    tpc = (Constraint(attribute="detector", value="TPC"),)
    await store.create(sample_task("wants-tpc", constraints=tpc))
    await store.create(sample_task("wants-memory", memory=512_000))
    await store.create(sample_task("fits"))

    await wait_task(store, "fits", lambda t: t.status.phase == "Running")
    tpc_task = await wait_task(store, "wants-tpc", lambda t: bool(_unschedulable(t)))
    big = await wait_task(store, "wants-memory", lambda t: bool(_unschedulable(t)))

    assert tpc_task.status.phase == "Pending"
    assert _unschedulable(tpc_task) == "no agent has detector=TPC"
    assert big.status.phase == "Pending"
    assert _unschedulable(big).startswith("insufficient memory: wants 512000, largest free ")
    event = await wait_event(store, "wants-tpc", "FailedScheduling")
    assert event.spec.type == "Warning" and event.spec.message == "no agent has detector=TPC"


async def test_cordoned_node_gets_no_new_tasks_until_uncordoned(
    store: Store, cluster: LocalMesosProcess, manager_factory: ManagerFactory
) -> None:
    hostname = cluster.state()["agents"][0]["hostname"]
    await store.create(Node(metadata=ObjectMeta(name=hostname), spec=NodeSpec(unschedulable=True)))
    manager_factory()
    await store.create(sample_task("kept-off"))
    held = await wait_task(store, "kept-off", lambda t: bool(_unschedulable(t)))
    assert held.status.phase == "Pending"
    assert _unschedulable(held) == "every offering agent is cordoned"

    node = await store.get(Node, hostname)
    await store.update(node.model_copy(update={"spec": NodeSpec(unschedulable=False)}))
    placed = await wait_task(store, "kept-off", lambda t: t.status.phase == "Running")
    assert placed.status.hostname == hostname
