"""Which agents a waiting group could be hosted by: worked out once, kept across offer rounds,
worked out anew only when something that decides it changes (controller.tasks.waits)."""

from __future__ import annotations

from controller.tasks.queue import Candidates
from controller.tasks.waits import AgentWaits
from crds.kinds.node import Node
from mesosapi.models import Offer
from tests.pilots.factories import node
from tests.tasks.test_offer_rounds import pinned
from tests.tasks.test_placement import offer


def _agent(n: int, detector: str) -> Offer:
    return offer(n, attrs={"detector": detector})


def _registered(name: str, detector: str) -> Node:
    return node(name, detector=detector)


def test_hosts_are_kept_until_a_hosting_fact_of_a_node_changes() -> None:
    candidates = Candidates()
    for name, detector in (("on-b", "B"), ("on-c", "C"), ("on-d", "D")):
        candidates.add(name, pinned(name, detector))
    groups = {g.shape.constraints[0].value: g for g in candidates.groups()}
    known: dict[str, Offer] = {o.agent_id: o for o in (_agent(1, "A"), _agent(2, "B"))}
    nodes = [_registered("host-3", "C")]  # C's agent has not offered this term
    waits = AgentWaits()

    def ask(round_offers: list[Offer]) -> dict[str, bool]:
        answer = waits.round(known, round_offers, cordoned=set(), asyncs=set(), nodes=nodes)
        return {d: answer(g) for d, g in groups.items()}

    assert ask([known["a1"]]) == {"B": True, "C": True, "D": False}
    assert waits.computed == 3
    assert ask([known["a1"], known["a2"]]) == {"B": False, "C": True, "D": False}
    assert waits.computed == 3  # B's agent is in the round: asked of the kept hosts
    busy = nodes[0].model_copy(update={"status": nodes[0].status.model_copy(update={"tasks": 7})})
    waits.node_changed(nodes[0], busy)  # a task count: nothing that decides who hosts
    nodes[0] = busy
    assert ask([known["a1"]]) == {"B": True, "C": True, "D": False}
    assert waits.computed == 3
    gone = busy.model_copy(update={"status": busy.status.model_copy(update={"ready": False})})
    waits.node_changed(busy, gone)
    nodes[0] = gone
    assert ask([known["a1"]]) == {"B": True, "C": False, "D": False}
    assert waits.computed == 6


def test_a_registered_node_is_found_by_any_of_its_values_unless_cordoned() -> None:
    candidates = Candidates()
    candidates.add("on-x", pinned("on-x", "X"))
    (group,) = candidates.groups()
    waits = AgentWaits()
    listed = node("host-4", detector="W, X")  # comma-separated values act as a set
    answer = waits.round({}, [], cordoned=set(), asyncs=set(), nodes=[listed])
    assert answer(group)
    waits.forget()
    answer = waits.round({}, [], cordoned={"host-4"}, asyncs=set(), nodes=[listed])
    assert not answer(group)  # cordoned: nobody to wait for
