"""The pilot controller's pure plan: pilots per mode, drains, reclaim decisions, release."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from controller.pilots.plan import Plan, World, plan
from crds.conditions import get_condition
from crds.kinds.common import Constraint
from crds.kinds.environment import Environment
from crds.kinds.node import Node, NodeReclaim, PilotBackOff, PilotDrain
from crds.kinds.task import Task
from crds.labels import PILOT_LABEL
from crds.meta import Condition
from tests.pilots.factories import SETTINGS, at, env, node, pilot_class, pilot_on, task


def world(
    nodes: list[Node],
    tasks: Sequence[Task] = (),
    envs: Sequence[Environment] = (),
    **settings: Any,
) -> World:
    return World(
        nodes=nodes,
        tasks=list(tasks),
        environments={e.name: e for e in envs},
        classes={"pilot": pilot_class()},
        settings=replace(SETTINGS, **settings),
    )


def with_reclaim(n: Node, marker: NodeReclaim) -> Node:
    return n.model_copy(update={"status": n.status.model_copy(update={"reclaim": marker})})


def test_async_node_gets_one_pinned_owned_pilot_and_sync_node_none() -> None:
    out = plan(world([node("a", mode="async"), node("s")]), now=at(0))
    assert [t.name for t in out.create] == ["pilot-a"]
    pilot = out.create[0]
    assert pilot.metadata.labels == {PILOT_LABEL: "a"}
    owner = pilot.metadata.owner_references[0]
    assert (owner.kind, owner.name, owner.uid, owner.controller) == ("Node", "a", "uid-a", True)
    assert Constraint(attribute="hostname", value="a") in pilot.spec.constraints
    assert pilot.spec.command.env["O2_PILOT_NODE"] == "a"
    assert out.statuses["a"].pilot == "pilot-a"
    assert "s" not in out.statuses


def test_existing_pilot_is_kept_not_duplicated() -> None:
    out = plan(world([node("a", mode="async")], [pilot_on("a")]), now=at(0))
    assert out.create == [] and out.drain == []
    cond = get_condition(out.statuses["a"].conditions, "Pilot")
    assert cond is not None and cond.status == "True"


def test_switching_to_sync_drains_the_pilot_and_records_the_drain() -> None:
    out = plan(world([node("a", mode="sync")], [pilot_on("a")]), now=at(5))
    assert out.drain == ["pilot-a"] and out.create == []
    drain = out.statuses["a"].drain
    assert drain == PilotDrain(pilot="pilot-a", reason="ModeSync", started_at=at(5))


def test_drain_ends_when_the_pilot_is_gone_with_its_duration() -> None:
    draining = node("a").model_copy(
        update={
            "status": node("a").status.model_copy(
                update={"pilot": "pilot-a", "drain": PilotDrain(pilot="pilot-a", started_at=at(0))}
            )
        }
    )
    out = plan(world([draining]), now=at(2.5))
    drain = out.statuses["a"].drain
    assert drain is not None and drain.finished_at == at(2.5) and drain.seconds == 2.5
    assert out.statuses["a"].pilot is None
    assert [n.reason for n in out.notes] == ["PilotDrained"]


def test_restarted_controller_during_a_drain_neither_redrains_nor_starts_a_second_pilot() -> None:
    out = plan(world([node("a", mode="async")], [pilot_on("a", deleting=True)]), now=at(3))
    assert out.create == [] and out.drain == []
    drain = out.statuses["a"].drain
    assert drain is not None and drain.started_at == at(0) and drain.finished_at is None


def test_pilot_that_does_not_fit_is_not_started() -> None:
    busy = [task("big", cpus=0.8, on="a")]
    out = plan(world([node("a", mode="async")], busy), now=at(0))
    assert out.create == []
    cond = get_condition(out.statuses["a"].conditions, "Pilot")
    assert cond is not None and cond.reason == "InsufficientResources"


def test_unschedulable_task_reclaims_exactly_one_async_node() -> None:
    nodes = [node("a", mode="async"), node("b", mode="async"), node("s")]
    pilots = [pilot_on("a"), pilot_on("b")]
    pending = [task("t1", unschedulable_since=0), task("on-s", on="s")]
    out = plan(world(nodes, [*pilots, *pending], [env()]), now=at(5))
    reclaimed = {n: s.reclaim for n, s in out.statuses.items() if s.reclaim is not None}
    assert list(reclaimed) == ["a"]
    marker = reclaimed["a"]
    assert marker is not None and marker.environment == "physics" and marker.phase == "Draining"
    assert "t1" in marker.reason
    assert out.drain == ["pilot-a"]
    assert out.reclaimed_nodes == {"physics": ("a",)}
    env_notes = [n.reason for n in out.notes if n.kind == "Environment"]
    assert env_notes == ["Reclaiming"]


def test_node_already_being_reclaimed_is_counted_so_no_second_node_is_taken() -> None:
    marker = NodeReclaim(environment="physics", phase="Draining", requested_at=at(1))
    nodes = [with_reclaim(node("a", mode="async"), marker), node("b", mode="async")]
    tasks = [pilot_on("a", deleting=True), pilot_on("b"), task("t1", unschedulable_since=0)]
    out = plan(world(nodes, tasks, [env()], max_reclaiming=5), now=at(5))
    assert "b" not in out.statuses or out.statuses["b"].reclaim is None
    assert out.drain == []


def test_cap_limits_nodes_draining_at_once() -> None:
    nodes = [node("a", mode="async"), node("b", mode="async")]
    tasks = [task("t1", unschedulable_since=0), task("t2", unschedulable_since=0)]
    one = plan(world(nodes, tasks, [env()]), now=at(5))
    assert sum(1 for s in one.statuses.values() if s.reclaim is not None) == 1
    two = plan(world(nodes, tasks, [env()], max_reclaiming=2), now=at(5))
    assert sum(1 for s in two.statuses.values() if s.reclaim is not None) == 2


def test_manual_environment_gets_a_hint_not_a_reclaim() -> None:
    nodes = [node("a", mode="async")]
    out = plan(
        world(nodes, [task("t1", unschedulable_since=0)], [env(reclaim="Manual")]), now=at(5)
    )
    assert all(s.reclaim is None for s in out.statuses.values())
    assert [n.reason for n in out.notes if n.kind == "Environment"] == ["ReclaimPossible"]


def test_recently_unschedulable_task_waits_for_pending_age() -> None:
    out = plan(
        world([node("a", mode="async")], [task("t1", unschedulable_since=4.5)], [env()]), now=at(5)
    )
    assert all(s.reclaim is None for s in out.statuses.values())
    assert out.requeue_after is not None and 0 < out.requeue_after <= 0.5


def test_task_whose_constraint_no_async_node_meets_reclaims_nothing() -> None:
    tpc = (Constraint(attribute="detector", value="TPC"),)
    nodes = [node("a", mode="async", detector="ITS")]
    tasks = [task("t1", unschedulable_since=0, constraints=tpc)]
    out = plan(world(nodes, tasks, [env()]), now=at(5))
    assert all(s.reclaim is None for s in out.statuses.values())


def test_drained_reclaim_becomes_reclaimed_and_the_node_gets_no_pilot() -> None:
    marker = NodeReclaim(environment="physics", phase="Draining", requested_at=at(1))
    nodes = [with_reclaim(node("a", mode="async"), marker)]
    out = plan(world(nodes, [task("t1", unschedulable_since=0)], [env()]), now=at(4))
    new = out.statuses["a"].reclaim
    assert new is not None and new.phase == "Reclaimed" and new.reclaimed_at == at(4)
    assert out.create == []
    assert {n.kind for n in out.notes if n.reason == "Reclaimed"} == {"Node", "Environment"}


def test_release_waits_for_the_cool_down_then_relaunches_the_pilot() -> None:
    marker = NodeReclaim(environment="physics", phase="Reclaimed", requested_at=at(0))
    nodes = [with_reclaim(node("a", mode="async"), marker)]
    done = [env(state="DONE")]
    first = plan(world(nodes, [], done), now=at(20))
    held = first.statuses["a"].reclaim
    assert held is not None and held.unneeded_since == at(20)
    assert first.create == [] and first.requeue_after == 10
    nodes = [with_reclaim(node("a", mode="async"), held)]
    early = plan(world(nodes, [], done), now=at(25))
    assert "a" not in early.statuses and early.create == []
    late = plan(world(nodes, [], done), now=at(30))
    assert late.statuses["a"].reclaim is None
    assert late.reclaimed_nodes == {}  # the environment never listed it: nothing to write
    assert [t.name for t in late.create] == ["pilot-a"]
    assert "Released" in {n.reason for n in late.notes}


def test_node_still_used_by_its_environment_is_not_released() -> None:
    marker = NodeReclaim(environment="physics", phase="Reclaimed", unneeded_since=at(0))
    nodes = [with_reclaim(node("a", mode="async"), marker)]
    out = plan(world(nodes, [task("t1", on="a")], [env()]), now=at(100))
    kept = out.statuses["a"].reclaim
    assert kept is not None and kept.unneeded_since is None and out.create == []


def test_operator_switch_to_sync_ends_a_reclaim() -> None:
    marker = NodeReclaim(environment="physics", phase="Reclaimed")
    nodes = [with_reclaim(node("a", mode="sync"), marker)]
    out = plan(world(nodes, [], [env()]), now=at(1))
    assert out.statuses["a"].reclaim is None and out.create == []


# ---- restart back-off -------------------------------------------------------------------------


def carried(n: Node, out: Plan) -> Node:
    """The node as the next pass sees it: with the status this pass wrote (if any)."""
    status = out.statuses.get(n.name, n.status)
    return n.model_copy(update={"status": status})


def pilot_cond(n: Node) -> Condition:
    cond = get_condition(n.status.conditions, "Pilot")
    assert cond is not None
    return cond


def crash_loop(n: Node, *, ends: int, start: float = 0.0) -> tuple[Node, list[float], float]:
    """Run `ends` pilots that each fail one second after launch, each pass on the node's status
    as written by the previous one; the waits between an end and the next create, and when."""
    now, waits = start, []
    for k in range(ends):
        failed = pilot_on("a", phase="Failed", uid=f"run-{k}", started=now - 1, exit_code=2)
        out = plan(world([n], [failed]), now=at(now))
        assert out.drain == ["pilot-a"] and out.create == []
        n = carried(n, out)
        ended_at = now
        deleting = pilot_on("a", phase="Failed", uid=f"run-{k}", deleting=True)
        out = plan(world([n], [deleting]), now=at(now + 0.5))
        assert out.drain == [] and out.create == [] and out.notes == []
        n = carried(n, out)
        out = plan(world([n]), now=at(now + 1))
        assert out.create == [] and out.requeue_after is not None
        n = carried(n, out)
        now += 1 + out.requeue_after
        out = plan(world([n]), now=at(now))
        assert [t.name for t in out.create] == ["pilot-a"]
        n = carried(n, out)
        waits.append(now - ended_at)
        now += 1
    return n, waits, now


def test_pilot_that_keeps_failing_restarts_after_doubling_delays_up_to_the_max() -> None:
    n, waits, _ = crash_loop(node("a", mode="async"), ends=7)
    assert waits == [10, 20, 40, 80, 160, 300, 300]
    record = n.status.backoff
    assert record is not None and record.failures == 7 and record.phase == "Failed"


def test_backing_off_node_says_why_and_until_when_with_a_warning_event() -> None:
    n, _, now = crash_loop(node("a", mode="async"), ends=2)
    failed = pilot_on("a", phase="Failed", uid="run-x", started=now - 1, exit_code=2)
    out = plan(world([n], [failed]), now=at(now))
    n = carried(n, out)
    cond = pilot_cond(n)
    expected = "pilot pilot-a ended 3 times in a row (Failed, exit code 2): next start in 40s"
    assert (cond.status, cond.reason) == ("False", "BackOff")
    assert cond.message.startswith(expected) and "(at " in cond.message
    (note,) = out.notes
    assert (note.reason, note.warning, note.message) == ("BackOff", True, cond.message)
    waiting = plan(world([n]), now=at(now + 15))
    assert pilot_cond(carried(n, waiting)).message == cond.message  # no countdown rewrites
    assert waiting.requeue_after == 25


def test_back_off_starts_again_after_a_pilot_ran_well_for_the_reset_period() -> None:
    n, _, now = crash_loop(node("a", mode="async"), ends=4)
    running = pilot_on("a", uid="healthy", started=now)
    early = plan(world([n], [running]), now=at(now + 599))
    assert carried(n, early).status.backoff is not None and early.requeue_after == 1
    late = plan(world([n], [running]), now=at(now + 600))
    n = carried(n, late)
    assert n.status.backoff is None and pilot_cond(n).reason == "Running"
    failed = pilot_on("a", phase="Failed", uid="healthy", started=now, exit_code=1)
    out = plan(world([n], [failed]), now=at(now + 900))
    record = carried(n, out).status.backoff
    assert record is not None and record.failures == 1
    assert record.not_before == at(now + 910)


def test_pilot_ending_after_a_long_run_counts_as_the_first_even_if_never_reset() -> None:
    n, _, now = crash_loop(node("a", mode="async"), ends=4)
    failed = pilot_on("a", phase="Lost", uid="long", started=now, exit_code=None)
    out = plan(world([n], [failed]), now=at(now + 700))  # no pass while it ran
    record = carried(n, out).status.backoff
    assert record is not None and record.failures == 1 and record.phase == "Lost"


def test_drain_o2_requested_is_not_counted_as_an_end() -> None:
    n = node("a", mode="sync")
    out = plan(world([n], [pilot_on("a", uid="p")]), now=at(0))
    assert out.drain == ["pilot-a"]
    n = carried(n, out)
    killed = pilot_on("a", phase="Killed", uid="p", deleting=True)
    out = plan(world([n], [killed]), now=at(1))
    n = carried(n, out)
    assert pilot_cond(n).reason == "Draining" and n.status.backoff is None
    out = plan(world([n]), now=at(2))
    n = carried(n, out)
    assert n.status.backoff is None and [x.reason for x in out.notes] == ["PilotDrained"]
    back = n.model_copy(update={"spec": n.spec.model_copy(update={"mode": "async"})})
    out = plan(world([back]), now=at(3))
    assert [t.name for t in out.create] == ["pilot-a"]  # no wait


def test_reclaim_drain_is_not_counted_and_sync_clears_a_back_off() -> None:
    n, _, now = crash_loop(node("a", mode="async"), ends=3)
    assert n.status.backoff is not None
    marker = NodeReclaim(environment="physics", phase="Draining", requested_at=at(now))
    n = with_reclaim(n, marker)
    out = plan(world([n], [pilot_on("a", uid="run-3")], [env()]), now=at(now))
    assert out.drain == ["pilot-a"]
    n = carried(n, out)
    killed = pilot_on("a", phase="Killed", uid="run-3", deleting=True)
    n = carried(n, plan(world([n], [killed], [env()]), now=at(now + 1)))
    assert n.status.backoff is not None and n.status.backoff.failures == 3
    n = carried(n, plan(world([n], [], [env()]), now=at(now + 2)))
    assert n.status.backoff is None and n.status.reclaim is not None


def test_restarted_controller_keeps_the_back_off_it_finds_in_status() -> None:
    record = PilotBackOff(
        failures=2,
        pilot="pilot-a",
        pilot_uid="run-1",
        phase="Failed",
        ended_at=at(0),
        not_before=at(20),
    )
    n = node("a", mode="async")
    n = n.model_copy(update={"status": n.status.model_copy(update={"backoff": record})})
    again = pilot_on("a", phase="Failed", uid="run-1")  # the delete never happened
    out = plan(world([n], [again]), now=at(5))
    assert out.drain == ["pilot-a"] and out.notes == []
    assert carried(n, out).status.backoff == record  # counted once
    gone = plan(world([n]), now=at(5))
    assert gone.create == [] and gone.requeue_after == 15
    assert [t.name for t in plan(world([n]), now=at(20)).create] == ["pilot-a"]


def test_zero_base_turns_the_back_off_off() -> None:
    n = node("a", mode="async")
    failed = pilot_on("a", phase="Failed", uid="run-0", started=0)
    out = plan(world([n], [failed], backoff_base=0), now=at(1))
    assert [x.reason for x in out.notes] == ["PilotEnded"]
    n = carried(n, out)
    assert [t.name for t in plan(world([n], backoff_base=0), now=at(1)).create] == ["pilot-a"]
