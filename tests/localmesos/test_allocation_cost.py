"""The allocator's cost per round: an agent whose resources and filters did not move costs no
resource arithmetic (the bench runs a round every 0.1 s over 500 agents), and port ranges are
searched and subtracted, not walked piece by piece. The offers themselves stay Mesos'."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from localmesos import calls, views
from localmesos import master as master_module
from localmesos.agent import Agent
from localmesos.config import AgentSpec, Timers
from localmesos.master import Master
from localmesos.model import Framework, Json
from localmesos.resources import Resources, merge_ranges, ranges_contain, subtract_ranges

AGENTS = 40


class Clock:
    def __init__(self) -> None:
        self.at = 1_000_000.0

    def __call__(self) -> float:
        return self.at


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(master_module, "now", clock)
    return clock


def _cluster(tmp_path: Path) -> tuple[Master, Framework, list[Json]]:
    """A master with AGENTS hollow agents (not served) and one subscribed framework whose
    events land in the returned list."""
    master = Master(timers=Timers(), host="127.0.0.1")
    master.request_allocation = lambda: None  # type: ignore[method-assign]
    for i in range(AGENTS):
        spec = AgentSpec(hostname=f"flp-{i}", hollow=True, ports="[31000-31999]")
        agent = Agent(master, spec, index=i + 1, work_dir=tmp_path)
        master.agents[agent.agent_id] = agent
    fw, _ = master.subscribe({"subscribe": {"framework_info": {"user": "u", "name": "n"}}})
    events: list[Json] = []
    fw.send = events.append  # type: ignore[method-assign,assignment]
    return master, fw, events


def _offers(events: list[Json]) -> list[Json]:
    found = [o for e in events if e["type"] == "OFFERS" for o in e["offers"]["offers"]]
    events.clear()
    return found


def _decline(master: Master, fw: Framework, offers: list[Json], refuse: float) -> None:
    body = {"offer_ids": [o["id"] for o in offers], "filters": {"refuse_seconds": refuse}}
    calls.handle_call(master, fw, {"type": "DECLINE", "decline": body})


@pytest.fixture
def arithmetic(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every Resources subtraction and containment test, by name."""
    done: list[str] = []
    sub, contains = Resources.__sub__, Resources.contains

    def counted_sub(self: Resources, other: Resources) -> Resources:
        done.append("sub")
        return sub(self, other)

    def counted_contains(self: Resources, other: Resources) -> bool:
        done.append("contains")
        return contains(self, other)

    monkeypatch.setattr(Resources, "__sub__", counted_sub)
    monkeypatch.setattr(Resources, "contains", counted_contains)
    yield done


async def test_a_round_over_unchanged_filtered_agents_does_no_resource_arithmetic(
    tmp_path: Path, clock: Clock, arithmetic: list[str]
) -> None:
    master, fw, events = _cluster(tmp_path)
    master.allocate()
    offers = _offers(events)
    assert len(offers) == AGENTS
    _decline(master, fw, offers, refuse=60)
    master.allocate()  # the first look after the DECLINE computes each agent once
    arithmetic.clear()
    for _ in range(5):
        master.allocate()
    assert _offers(events) == []
    assert arithmetic == []  # was 2 subtractions and 1 containment per agent per round


async def test_kept_verdicts_follow_expiry_new_filters_revive_and_moved_resources(
    tmp_path: Path, clock: Clock
) -> None:
    master, fw, events = _cluster(tmp_path)
    agent = list(master.agents.values())[1]
    part = Resources({"cpus": 1.0}, {})
    agent.ledger.claim(part)  # offered 3 of its 4 cpus, refused below
    master.allocate()
    offers = _offers(events)
    assert offers[1]["agent_id"] == {"value": agent.agent_id}
    _decline(master, fw, offers[:1], refuse=5)
    _decline(master, fw, offers[1:], refuse=60)
    master.allocate()
    assert _offers(events) == []
    clock.at += 5  # the 5 s filter ends exactly now (Mesos: expired at its deadline)
    master.allocate()
    again = _offers(events)
    assert [o["agent_id"] for o in again] == [offers[0]["agent_id"]]
    _decline(master, fw, again, refuse=60)  # a new filter on an agent with a kept verdict
    master.allocate()
    assert _offers(events) == []
    agent.ledger.claim(part)  # less is free than was refused: still refused (Mesos' rule)
    master.allocate()
    assert _offers(events) == []
    agent.ledger.release(part)
    agent.ledger.release(part)  # more is free than was refused: offered
    master.allocate()
    moved = _offers(events)
    assert [o["agent_id"] for o in moved] == [{"value": agent.agent_id}]
    assert {r["name"]: r.get("scalar") for r in moved[0]["resources"]}["cpus"] == {"value": 4.0}
    calls.handle_call(master, fw, {"type": "REVIVE", "revive": {}})
    master.allocate()
    assert len(_offers(events)) == AGENTS - 1  # all but the one in `moved`, still offered


class NoWalk(dict[str, Any]):
    """An offer table that may be looked up but not walked."""

    def values(self) -> Any:
        raise AssertionError("walked every offer")

    items = __iter__ = values


async def test_the_agent_list_takes_each_agents_offered_resources_from_its_ledger(
    tmp_path: Path, clock: Clock
) -> None:
    """o2 polls /master/slaves every 5 s; with an offer out on each of 500 agents a walk of
    the offer table per agent was 250,000 steps a poll."""
    master, fw, events = _cluster(tmp_path)
    master.allocate()
    offers = _offers(events)
    _decline(master, fw, offers[:1], refuse=60)
    master.offers = NoWalk(master.offers)
    listed = {s["id"]: s for s in views.slaves(master)["slaves"]}
    assert len(listed) == AGENTS
    declined, offered = (listed[o["agent_id"]["value"]] for o in offers[:2])
    assert declined["offered_resources"] == {"cpus": 0.0, "gpus": 0.0, "mem": 0.0, "disk": 0.0}
    assert offered["offered_resources"] == offered["resources"]  # all of it, in one offer
    assert offered["offered_resources"]["ports"] == "[31000-31999]"


class Counted(int):
    """An int that counts the comparisons made with it."""

    seen = 0

    def _count(self, other: Any, op: str) -> bool:
        Counted.seen += 1
        return bool(getattr(int(self), op)(int(other)))

    def __lt__(self, other: Any) -> bool:
        return self._count(other, "__lt__")

    def __le__(self, other: Any) -> bool:
        return self._count(other, "__le__")

    def __gt__(self, other: Any) -> bool:
        return self._count(other, "__gt__")

    def __ge__(self, other: Any) -> bool:
        return self._count(other, "__ge__")

    __hash__ = int.__hash__


def _pieces(first: int, count: int, step: int) -> tuple[tuple[int, int], ...]:
    return tuple((Counted(first + i * step), Counted(first + i * step)) for i in range(count))


def test_port_ranges_are_searched_and_swept_not_walked_per_piece() -> None:
    """An agent with 400 tasks of one port each holds 400 one-port pieces; an ACCEPT checks
    and takes each task's port from what is left (was pieces x pieces comparisons)."""
    have = _pieces(31000, 400, 2)  # every other port free
    want = _pieces(31000, 400, 2)
    Counted.seen = 0
    assert ranges_contain(have, want)
    assert not ranges_contain(have, ((Counted(31001), Counted(31001)),))
    assert Counted.seen < 400 * 12  # a binary search each: ~9 steps, not up to 400
    Counted.seen = 0
    assert subtract_ranges(have, want[:200]) == have[200:]
    assert Counted.seen < 800 * 8  # one sweep over both, not 400 x 200


ranges = st.lists(
    st.tuples(st.integers(0, 200), st.integers(0, 30)).map(lambda p: (p[0], p[0] + p[1])),
    max_size=8,
)


@given(ranges, ranges)
def test_range_containment_matches_set_semantics(
    have: list[tuple[int, int]], want: list[tuple[int, int]]
) -> None:
    def points(rs: tuple[tuple[int, int], ...]) -> set[int]:
        return {p for b, e in rs for p in range(b, e + 1)}

    merged_have, merged_want = merge_ranges(have), merge_ranges(want)
    expected = points(merged_want) <= points(merged_have)
    assert ranges_contain(merged_have, merged_want) == expected
