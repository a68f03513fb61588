"""Resource helpers: build scalars and ranges, check fit, carve tasks out of an offer. Pure.

Scalars are compared in Mesos' fixed point (three decimals), so 0.1 + 0.2 fits in 0.3.
Carved resources keep the role, allocation_info and reservations of the offered resource they
come from: that is how a LAUNCH uses reserved resources where the offer has them.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from mesosapi.models import AllocationInfo, Range, Ranges, ReservationInfo, Resource, Scalar

_MILLI = 1000


def _fixed(value: float) -> int:
    return round(value * _MILLI)


def scalar(
    name: str,
    value: float,
    *,
    role: str | None = None,
    reservations: list[ReservationInfo] | None = None,
    allocation_role: str | None = None,
) -> Resource:
    """A scalar resource such as `scalar("cpus", 0.5)`."""
    return Resource(
        name=name,
        type="SCALAR",
        scalar=Scalar(value=value),
        role=role,
        reservations=reservations,
        allocation_info=AllocationInfo(role=allocation_role) if allocation_role else None,
    )


def ranges(
    name: str,
    spans: Iterable[tuple[int, int]],
    *,
    role: str | None = None,
    reservations: list[ReservationInfo] | None = None,
    allocation_role: str | None = None,
) -> Resource:
    """A ranges resource such as `ranges("ports", [(31000, 32000)])` (inclusive bounds)."""
    return Resource(
        name=name,
        type="RANGES",
        ranges=Ranges(range=[Range(begin=a, end=b) for a, b in spans]),
        role=role,
        reservations=reservations,
        allocation_info=AllocationInfo(role=allocation_role) if allocation_role else None,
    )


def scalar_total(resources: Sequence[Resource], name: str) -> float:
    """Sum of the scalar resources called `name` (all roles)."""
    total = sum(_fixed(r.scalar.value) for r in resources if r.name == name and r.scalar)
    return total / _MILLI


def range_spans(resources: Sequence[Resource], name: str) -> list[tuple[int, int]]:
    """All (begin, end) spans of the ranges resources called `name`, sorted."""
    spans = [
        (rg.begin, rg.end)
        for r in resources
        if r.name == name and r.ranges
        for rg in r.ranges.range
    ]
    return sorted(spans)


def _count(spans: Sequence[tuple[int, int]]) -> int:
    return sum(b - a + 1 for a, b in spans)


def merge_spans(values: Iterable[int]) -> list[tuple[int, int]]:
    """Sorted integers folded into inclusive spans: [1,2,3,7] -> [(1,3),(7,7)]."""
    out: list[tuple[int, int]] = []
    for v in sorted(set(values)):
        if out and out[-1][1] + 1 == v:
            out[-1] = (out[-1][0], v)
        else:
            out.append((v, v))
    return out


@dataclass(frozen=True)
class Demand:
    """What one task needs: cpus, mem (MB), a count of ports, other named scalars."""

    cpus: float = 0.0
    mem: float = 0.0
    ports: int = 0
    scalars: tuple[tuple[str, float], ...] = ()
    floors: tuple[int, ...] = ()
    """Further ports, one per entry, each the lowest free port >= the entry (the lowest free
    one when the offer has none that high), taken after the `ports` in this order."""

    def all_scalars(self) -> list[tuple[str, float]]:
        base = [("cpus", self.cpus), ("mem", self.mem), *self.scalars]
        return [(n, v) for n, v in base if v > 0]

    @functools.cached_property
    def fixed(self) -> tuple[tuple[str, int], ...]:
        """`all_scalars` in fixed point, worked out once per demand (a round places thousands
        of tasks of a few demands)."""
        return tuple((n, _fixed(v)) for n, v in self.all_scalars())

    @functools.cached_property
    def port_count(self) -> int:
        return self.ports + len(self.floors)

    def __add__(self, other: Demand) -> Demand:
        merged: dict[str, float] = dict(self.scalars)
        for n, v in other.scalars:
            merged[n] = merged.get(n, 0.0) + v
        return Demand(
            cpus=self.cpus + other.cpus,
            mem=self.mem + other.mem,
            ports=self.ports + other.ports,
            scalars=tuple(merged.items()),
            floors=self.floors + other.floors,
        )


@dataclass(frozen=True)
class Allocation:
    """Resources carved for one task, and the concrete ports picked for it."""

    resources: list[Resource]
    ports: list[int]


def _home_fields(r: Resource) -> dict[str, object]:
    """The role/reservation/allocation of `r` (every field but its value, those it has), to
    build pieces of the same home from (a field left out is None, as one given as None)."""
    value_fields = ("scalar", "ranges", "set_")
    fields = {name: getattr(r, name) for name in Resource.model_fields}
    return {k: v for k, v in fields.items() if v is not None and k not in value_fields}


class ResourcePool:
    """Mutable view of one offer's resources: take pieces out for tasks until it is empty.

    Not thread-safe and not I/O: a planner builds one per offer, calls `take` per task and
    reads `remaining()` for what is left. A round places thousands of alike tasks, so a take
    costs no pydantic copy: equal scalar pieces of one home are one (frozen) Resource, built
    once per pool, and the running totals are kept instead of summed per look.
    """

    def __init__(self, resources: Sequence[Resource]) -> None:
        self._scalars: list[tuple[dict[str, object], int]] = []
        self._ranges: list[tuple[dict[str, object], list[tuple[int, int]]]] = []
        self._totals: dict[str, int] = {}
        self._pieces: dict[tuple[int, int], Resource] = {}
        """(index into _scalars, fixed-point amount) -> that piece of that home."""
        self._ports: dict[str, int] = {}
        """Free values per ranges name, kept as they are taken (not counted per look)."""
        for r in resources:
            if r.type == "SCALAR" and r.scalar is not None:
                amount = _fixed(r.scalar.value)
                self._scalars.append((_home_fields(r), amount))
                self._totals[r.name] = self._totals.get(r.name, 0) + amount
            elif r.type == "RANGES" and r.ranges is not None:
                spans = sorted((x.begin, x.end) for x in r.ranges.range)
                self._ranges.append((_home_fields(r), spans))
                self._ports[r.name] = self._ports.get(r.name, 0) + _count(spans)

    def available(self, name: str) -> float:
        return self._totals.get(name, 0) / _MILLI

    def available_ports(self, name: str = "ports") -> int:
        return self._ports.get(name, 0)

    def fits(self, demand: Demand) -> bool:
        """True when `demand` can be carved from what is left."""
        for name, value in demand.fixed:
            if self._totals.get(name, 0) < value:
                return False
        ports = demand.port_count
        return not ports or self.available_ports() >= ports

    def take(self, demand: Demand) -> Allocation | None:
        """Carve `demand` out of the pool; None (and nothing changed) when it does not fit."""
        if not self.fits(demand):
            return None
        out: list[Resource] = []
        for name, value in demand.fixed:
            out.extend(self._take_scalar(name, value))
        ports: list[int] = []
        if demand.ports or demand.floors:
            port_resources, ports = self._take_ports("ports", demand.ports, demand.floors)
            out.extend(port_resources)
        return Allocation(resources=out, ports=ports)

    def _take_scalar(self, name: str, want: int) -> list[Resource]:
        out: list[Resource] = []
        self._totals[name] = self._totals.get(name, 0) - want
        for i, (home, have) in enumerate(self._scalars):
            if want <= 0:
                break
            if home["name"] != name or have <= 0:
                continue
            got = min(have, want)
            self._scalars[i] = (home, have - got)
            want -= got
            piece = self._pieces.get((i, got))
            if piece is None:
                piece = self._pieces[i, got] = Resource(
                    **{**home, "scalar": Scalar(value=got / _MILLI)}
                )
            out.append(piece)
        return out

    def _take_ports(
        self, name: str, count: int, floors: tuple[int, ...] = ()
    ) -> tuple[list[Resource], list[int]]:
        """`count` lowest free ports, then one per floor; one resource per home they came from."""
        homes = [i for i, (home, _) in enumerate(self._ranges) if home["name"] == name]
        picked: list[tuple[int, int]] = []  # (index into self._ranges, port)
        for floor in (*([0] * count), *floors):
            found = self._lowest_free(homes, floor)
            if found is None and floor:
                found = self._lowest_free(homes, 0)
            if found is None:
                break
            picked.append(found)
            index, port = found
            _drop(self._ranges[index][1], port)
        self._ports[name] = self._ports.get(name, 0) - len(picked)
        out: list[Resource] = []
        for index in homes:
            mine = [port for i, port in picked if i == index]
            if mine:  # one validation of plain values: a third of three models' cost
                spans_out = [{"begin": a, "end": b} for a, b in merge_spans(mine)]
                home = self._ranges[index][0]
                out.append(Resource.model_validate({**home, "ranges": {"range": spans_out}}))
        return out, [port for _, port in picked]

    def _lowest_free(self, homes: list[int], floor: int) -> tuple[int, int] | None:
        best: tuple[int, int] | None = None
        for index in homes:
            for a, b in self._ranges[index][1]:
                if b < floor:
                    continue
                port = max(a, floor)
                if best is None or port < best[1]:
                    best = (index, port)
                break
        return best

    def remaining(self) -> list[Resource]:
        """What is left, in the same shape as the offer (empty entries dropped)."""
        out = [
            Resource(**{**home, "scalar": Scalar(value=v / _MILLI)})
            for home, v in self._scalars
            if v > 0
        ]
        for home, spans in self._ranges:
            if spans:
                rg = Ranges(range=[Range(begin=a, end=b) for a, b in spans])
                out.append(Resource(**{**home, "ranges": rg}))
        return out


def _drop(spans: list[tuple[int, int]], port: int) -> None:
    """Take `port` out of `spans` (sorted, in place): a pool's ports are taken lowest first,
    so this is mostly its first span shrinking by one, not a new list per port."""
    for k, (a, b) in enumerate(spans):
        if a <= port <= b:
            if a == b:
                del spans[k]
            elif port == a:
                spans[k] = (a + 1, b)
            elif port == b:
                spans[k] = (a, b - 1)
            else:
                spans[k : k + 1] = [(a, port - 1), (port + 1, b)]
            return


def fits(resources: Sequence[Resource], demand: Demand) -> bool:
    """True when `demand` fits in `resources` (an offer's, say)."""
    return ResourcePool(resources).fits(demand)


def pick_ports(resources: Sequence[Resource], count: int) -> list[int]:
    """The `count` lowest free ports in the `ports` ranges; ValueError when there are fewer."""
    allocation = ResourcePool(resources).take(Demand(ports=count))
    if allocation is None:
        raise ValueError(f"only {_count(range_spans(resources, 'ports'))} ports, {count} wanted")
    return allocation.ports
