"""Placement by node mode: pilots only on async agents, environment tasks only on sync ones."""

from __future__ import annotations

from controller.tasks.modes import place_by_mode, split_by_mode
from controller.tasks.placement import place
from crds.kinds.common import Wants
from crds.kinds.node import NodeReclaim
from crds.kinds.task import Task, TaskStatus
from mesosapi.models import AgentId, FrameworkId, Offer, OfferId
from mesosapi.resources import ranges, scalar
from tests.pilots.factories import node, pilot_on, task


def offer(host: str) -> Offer:
    return Offer(
        id=OfferId(f"o-{host}"),
        framework_id=FrameworkId("fw"),
        agent_id=AgentId(f"agent-{host}"),
        hostname=host,
        resources=[scalar("cpus", 4), scalar("mem", 4096), ranges("ports", [(31000, 31009)])],
    )


def pending_pilot(host: str) -> Task:
    return pilot_on(host).model_copy(update={"status": TaskStatus()})


def test_environment_tasks_get_only_sync_offers_and_pilots_only_async_ones() -> None:
    nodes = [node("s"), node("a", mode="async")]
    pending = [task("t1"), pending_pilot("a")]
    groups = {g.mode: g for g in split_by_mode(pending, [offer("s"), offer("a")], nodes)}
    assert [t.name for t in groups["sync"].tasks] == ["t1"]
    assert [o.hostname for o in groups["sync"].offers] == ["s"]
    assert [t.name for t in groups["async"].tasks] == ["pilot-a"]
    assert [o.hostname for o in groups["async"].offers] == ["a"]
    placed = {
        p.task: p.offer_id
        for g in groups.values()
        for p in place(g.tasks, g.offers, executor_id="o2-executor").placed
    }
    assert placed == {"t1": "o-s", "pilot-a": "o-a"}


def test_reclaimed_node_takes_environment_tasks_again() -> None:
    reclaimed = node("a", mode="async")
    reclaimed = reclaimed.model_copy(
        update={
            "status": reclaimed.status.model_copy(update={"reclaim": NodeReclaim(environment="e")})
        }
    )
    groups = {g.mode: g for g in split_by_mode([task("t1")], [offer("a")], [reclaimed])}
    assert [o.hostname for o in groups["sync"].offers] == ["a"]
    assert groups["async"].offers == []


def test_agent_without_a_node_resource_counts_as_sync() -> None:
    groups = {g.mode: g for g in split_by_mode([task("t1")], [offer("new")], [])}
    assert [o.hostname for o in groups["sync"].offers] == ["new"]


def test_place_by_mode_merges_groups_and_says_which_nodes_were_tried() -> None:
    nodes = [node("s"), node("a", mode="async")]
    big = task("big").model_copy(
        update={"spec": task("big").spec.model_copy(update={"wants": Wants(cpus=8)})}
    )
    plan = place_by_mode(
        [task("t1"), pending_pilot("a"), big],
        [offer("s"), offer("a")],
        nodes=nodes,
        executor_id="o2-executor",
    )
    assert {p.task: p.offer_id for p in plan.placed} == {"t1": "o-s", "pilot-a": "o-a"}
    assert plan.unplaced["big"].endswith("(on sync nodes)")
    assert plan.executor_needed == {"o-s", "o-a"}
