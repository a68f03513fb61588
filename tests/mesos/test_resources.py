"""Resource arithmetic: fit checks, carving tasks from offers, picking ports, reservations."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mesosapi.models import ReservationInfo
from mesosapi.resources import (
    Demand,
    ResourcePool,
    fits,
    merge_spans,
    pick_ports,
    range_spans,
    ranges,
    scalar,
    scalar_total,
)

OFFER = [
    scalar("cpus", 1.0),
    scalar("mem", 1024),
    ranges("ports", [(31000, 31002), (31010, 31010)]),
]


def test_fit_is_checked_in_fixed_point() -> None:
    assert fits([scalar("cpus", 0.3)], Demand(cpus=0.1 + 0.2))
    assert not fits([scalar("cpus", 0.3)], Demand(cpus=0.301))


def test_fit_counts_ports_across_ranges() -> None:
    assert fits(OFFER, Demand(ports=4))
    assert not fits(OFFER, Demand(ports=5))


def test_pick_ports_takes_the_lowest_free_ports() -> None:
    assert pick_ports(OFFER, 4) == [31000, 31001, 31002, 31010]
    with pytest.raises(ValueError, match="5 wanted"):
        pick_ports(OFFER, 5)


def test_pool_carves_tasks_until_it_runs_out_and_reports_the_rest() -> None:
    pool = ResourcePool(OFFER)
    first = pool.take(Demand(cpus=0.4, mem=300, ports=2))
    second = pool.take(Demand(cpus=0.4, mem=300, ports=1))
    assert first is not None and second is not None
    assert first.ports == [31000, 31001] and second.ports == [31002]
    assert range_spans(first.resources, "ports") == [(31000, 31001)]
    assert pool.take(Demand(cpus=0.4)) is None
    rest = pool.remaining()
    assert scalar_total(rest, "cpus") == pytest.approx(0.2)
    assert scalar_total(rest, "mem") == 424
    assert range_spans(rest, "ports") == [(31010, 31010)]


def test_failed_take_changes_nothing() -> None:
    pool = ResourcePool(OFFER)
    assert pool.take(Demand(cpus=0.5, mem=4096)) is None
    assert pool.available("cpus") == 1.0 and pool.available("mem") == 1024


def test_carved_resources_keep_their_reservation_and_allocation_role() -> None:
    reserved = [ReservationInfo(type="STATIC", role="o2")]
    offer = [
        scalar("cpus", 0.5, role="o2", reservations=reserved, allocation_role="o2"),
        scalar("cpus", 2.0, allocation_role="o2"),
    ]
    got = ResourcePool(offer).take(Demand(cpus=1.0))
    assert got is not None
    first, second = got.resources
    assert first.reservations == reserved and first.role == "o2"
    assert first.scalar is not None and first.scalar.value == 0.5
    assert second.reservations is None and second.allocation_info is not None
    assert second.allocation_info.role == "o2"


def test_carved_ports_keep_their_reservation_and_allocation_role() -> None:
    reserved = [ReservationInfo(type="STATIC", role="o2")]
    offer = [
        ranges("ports", [(31000, 31001)], role="o2", reservations=reserved, allocation_role="o2"),
        ranges("ports", [(32000, 32005)], allocation_role="o2"),
    ]
    got = ResourcePool(offer).take(Demand(ports=3))
    assert got is not None and got.ports == [31000, 31001, 32000]
    assert [r.to_wire() for r in got.resources] == [
        ranges(
            "ports", [(31000, 31001)], role="o2", reservations=reserved, allocation_role="o2"
        ).to_wire(),
        ranges("ports", [(32000, 32000)], allocation_role="o2").to_wire(),
    ]


def test_demands_add_up() -> None:
    total = Demand(cpus=0.5, mem=10, ports=1, scalars=(("gpus", 1.0),)) + Demand(cpus=0.1, ports=2)
    assert total.cpus == pytest.approx(0.6) and total.ports == 3
    assert dict(total.scalars) == {"gpus": 1.0}


@given(st.lists(st.integers(min_value=0, max_value=200), max_size=60))
def test_merge_spans_covers_exactly_the_given_values(values: list[int]) -> None:
    spans = merge_spans(values)
    covered = [v for a, b in spans for v in range(a, b + 1)]
    assert covered == sorted(set(values))
    assert all(spans[i][1] + 1 < spans[i + 1][0] for i in range(len(spans) - 1))


@given(st.lists(st.integers(min_value=1, max_value=5), max_size=10))
def test_pool_never_hands_out_a_port_twice(counts: list[int]) -> None:
    pool = ResourcePool([ranges("ports", [(1000, 1010), (2000, 2003)])])
    seen: list[int] = []
    for n in counts:
        got = pool.take(Demand(ports=n))
        if got is not None:
            seen.extend(got.ports)
    assert len(seen) == len(set(seen))
    assert len(seen) + pool.available_ports() == 15


def test_alike_takes_share_their_scalar_pieces_and_copy_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A round places thousands of alike tasks: their cpus/mem pieces are one frozen Resource
    per pool, and no take goes through pydantic's model_copy (it cost ~20 us per piece)."""
    from mesosapi.models import Resource

    copies: list[Resource] = []
    original = Resource.model_copy

    def counted(self: Resource, **kwargs: object) -> Resource:
        copies.append(self)
        return original(self, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Resource, "model_copy", counted)
    pool = ResourcePool([scalar("cpus", 8), scalar("mem", 1024), ranges("ports", [(1, 100)])])
    first = pool.take(Demand(cpus=0.1, mem=8, ports=1))
    second = pool.take(Demand(cpus=0.1, mem=8, ports=1))
    assert first is not None and second is not None
    assert first.resources[0] is second.resources[0] and first.resources[1] is second.resources[1]
    assert [r.to_wire() for r in second.resources] == [
        scalar("cpus", 0.1).to_wire(),
        scalar("mem", 8).to_wire(),
        ranges("ports", [(2, 2)]).to_wire(),
    ]
    assert copies == []
    assert pool.available("cpus") == pytest.approx(7.8) and pool.available("mem") == 1008


@given(
    st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=3),
            st.lists(st.sampled_from([0, 1004, 1011, 2001, 2003, 5000]), max_size=3),
        ),
        max_size=12,
    )
)
def test_pool_takes_the_lowest_free_port_at_or_above_each_floor(
    takes: list[tuple[int, list[int]]],
) -> None:
    """Ports taken from the middle of a range split it (the pool takes them out in place and
    keeps the free count rather than recounting it per look): each take gets exactly what a
    plain set of free ports says, and what is left is that set."""
    spans = [(1000, 1010), (2000, 2003)]
    pool = ResourcePool([ranges("ports", spans)])
    free = {p for a, b in spans for p in range(a, b + 1)}
    for count, floors in takes:
        want = count + len(floors)
        got = pool.take(Demand(ports=count, floors=tuple(floors)))
        if want > len(free):
            assert got is None
            continue
        assert got is not None
        expected = []
        for floor in [0] * count + floors:
            port = min((p for p in free if p >= floor), default=None)
            port = min(free) if port is None else port
            free.discard(port)
            expected.append(port)
        assert got.ports == expected
        assert pool.available_ports() == len(free)
    left = range_spans(pool.remaining(), "ports")
    assert [p for a, b in left for p in range(a, b + 1)] == sorted(free)
