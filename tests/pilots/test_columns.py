"""`o2 get nodes` MODE and PILOT columns for reclaimed and draining nodes."""

from __future__ import annotations

from crds.kinds.node import Node, NodeReclaim, PilotBackOff, PilotDrain, effective_mode
from crds.resource import kind_info
from tests.pilots.factories import at, node


def cells(n: Node) -> dict[str, str]:
    return {c.header: c.value(n) for c in kind_info("nodes").columns}


def with_status(n: Node, **changes: object) -> Node:
    return n.model_copy(update={"status": n.status.model_copy(update=changes)})


def test_reclaimed_async_node_shows_and_acts_as_sync() -> None:
    reclaimed = with_status(node("a", mode="async"), reclaim=NodeReclaim(environment="fill"))
    assert cells(reclaimed)["MODE"] == "sync(reclaimed:fill)"
    assert effective_mode(reclaimed) == "sync"
    assert effective_mode(node("b", mode="async")) == "async"


def test_pilot_column_marks_a_drain_in_progress_and_clears_after() -> None:
    draining = with_status(
        node("a", mode="sync"),
        pilot="pilot-a",
        drain=PilotDrain(pilot="pilot-a", started_at=at(0)),
    )
    assert cells(draining)["PILOT"] == "pilot-a(draining)"
    done = with_status(
        draining, pilot=None, drain=PilotDrain(pilot="pilot-a", finished_at=at(2), seconds=2)
    )
    assert cells(done)["PILOT"] == ""
    running = with_status(node("b", mode="async"), pilot="pilot-b")
    assert (cells(running)["MODE"], cells(running)["PILOT"]) == ("async", "pilot-b")


def test_pilot_column_shows_a_back_off_and_the_restarts_behind_a_pilot() -> None:
    record = PilotBackOff(failures=3, pilot="pilot-a", ended_at=at(0), not_before=at(40))
    waiting = with_status(node("a", mode="async"), pilot=None, backoff=record)
    assert cells(waiting)["PILOT"] == "backoff(3x,until 00:00:40Z)"
    restarted = with_status(waiting, pilot="pilot-a")
    assert cells(restarted)["PILOT"] == "pilot-a(ended 3x)"
