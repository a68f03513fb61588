"""Mesos resource arithmetic (scalars and port ranges) and the JSON shapes. Pure: no I/O."""

from __future__ import annotations

import bisect
import operator
import re
from dataclasses import dataclass, field
from typing import Any

Json = dict[str, Any]
Ranges = tuple[tuple[int, int], ...]

_EPS = 1e-6
_begin = operator.itemgetter(0)
_RANGE = re.compile(r"(\d+)\s*-\s*(\d+)")


def _norm(value: float) -> float:
    """Mesos keeps scalars in fixed point with three decimals."""
    return round(value, 3)


def parse_ranges(text: str) -> Ranges:
    """`"[31000-31999, 32005-32010]"` as sorted, merged inclusive ranges."""
    found = [(int(a), int(b)) for a, b in _RANGE.findall(text)]
    if not found and text.strip("[] "):
        raise ValueError(f"bad ranges {text!r}: expected like [31000-31999]")
    return merge_ranges(found)


def format_ranges(ranges: Ranges) -> str:
    return "[" + ", ".join(f"{a}-{b}" for a, b in ranges) + "]"


def merge_ranges(ranges: list[tuple[int, int]] | Ranges) -> Ranges:
    out: list[tuple[int, int]] = []
    for begin, end in sorted(ranges):
        if begin > end:
            raise ValueError(f"bad range {begin}-{end}")
        if out and begin <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((begin, end))
    return tuple(out)


def subtract_ranges(have: Ranges, take: Ranges) -> Ranges:
    """`have` less `take`, both sorted by begin (as merge_ranges leaves them): one sweep, so
    an agent's hundreds of one-port pieces cost O(pieces), not pieces x pieces."""
    out: list[tuple[int, int]] = []
    first = 0
    for begin, end in have:
        while first < len(take) and take[first][1] < begin:
            first += 1  # wholly below this piece, so below every later one too
        cur, at = begin, first
        while at < len(take) and take[at][0] <= end and cur <= end:
            tb, te = take[at]
            if tb > cur:
                out.append((cur, tb - 1))
            cur = max(cur, te + 1)
            at += 1
        if cur <= end:
            out.append((cur, end))
    return merge_ranges(out)


def ranges_contain(have: Ranges, want: Ranges) -> bool:
    """Every range of `want` inside one of `have` (merged: sorted, disjoint): a binary search
    each, not a walk of `have`."""
    for wb, we in want:
        at = bisect.bisect_right(have, wb, key=_begin) - 1
        if at < 0 or have[at][1] < we:
            return False
    return True


@dataclass(frozen=True)
class Resources:
    """Unreserved resources of role `*`: scalars (cpus, mem, disk, gpus) and ranges (ports)."""

    scalars: dict[str, float] = field(default_factory=dict)
    ranges: dict[str, Ranges] = field(default_factory=dict)

    @classmethod
    def from_json(cls, items: list[Json] | None) -> Resources:
        """From a Mesos `Resource` list; values of the same name add up."""
        scalars: dict[str, float] = {}
        ranges: dict[str, list[tuple[int, int]]] = {}
        for item in items or []:
            name = str(item["name"])
            kind = item.get("type", "SCALAR")
            if kind == "SCALAR":
                scalars[name] = _norm(scalars.get(name, 0.0) + float(item["scalar"]["value"]))
            elif kind == "RANGES":
                for rng in item.get("ranges", {}).get("range", []):
                    ranges.setdefault(name, []).append((int(rng["begin"]), int(rng["end"])))
            else:
                raise ValueError(f"resource {name!r}: type {kind} is not supported")
        return cls(
            scalars={k: v for k, v in scalars.items() if v > _EPS},
            ranges={k: merge_ranges(v) for k, v in ranges.items() if v},
        )

    def to_json(self, *, role: str | None = "*", allocation_role: str | None = None) -> list[Json]:
        """Mesos `Resource`s; `role` is the (legacy) reservation role, `*` for unreserved;
        `allocation_role` the role they are offered to (defaults to `role`)."""
        out: list[Json] = []
        for name, value in sorted(self.scalars.items()):
            out.append({"name": name, "type": "SCALAR", "scalar": {"value": value}})
        for name, rngs in sorted(self.ranges.items()):
            ranges = [{"begin": b, "end": e} for b, e in rngs]
            out.append({"name": name, "type": "RANGES", "ranges": {"range": ranges}})
        if role is not None:
            for item in out:
                item["role"] = role
                item["allocation_info"] = {"role": allocation_role or role}
        return out

    def to_flat(self) -> Json:
        """The v0 operator shape: `{"cpus": 4.0, "ports": "[31000-31999]"}`."""
        flat: Json = {"cpus": 0.0, "gpus": 0.0, "mem": 0.0, "disk": 0.0}
        flat.update(self.scalars)
        for name, rngs in self.ranges.items():
            flat[name] = format_ranges(rngs)
        return flat

    def __add__(self, other: Resources) -> Resources:
        scalars = dict(self.scalars)
        for name, value in other.scalars.items():
            scalars[name] = _norm(scalars.get(name, 0.0) + value)
        ranges = dict(self.ranges)
        for name, rngs in other.ranges.items():
            ranges[name] = merge_ranges(list(ranges.get(name, ())) + list(rngs))
        return Resources(scalars, ranges)

    def __sub__(self, other: Resources) -> Resources:
        scalars = dict(self.scalars)
        for name, value in other.scalars.items():
            left = _norm(scalars.get(name, 0.0) - value)
            if left > _EPS:
                scalars[name] = left
            else:
                scalars.pop(name, None)
        ranges = dict(self.ranges)
        for name, rngs in other.ranges.items():
            left_r = subtract_ranges(ranges.get(name, ()), rngs)
            if left_r:
                ranges[name] = left_r
            else:
                ranges.pop(name, None)
        return Resources(scalars, ranges)

    def contains(self, other: Resources) -> bool:
        for name, value in other.scalars.items():
            if self.scalars.get(name, 0.0) + _EPS < value:
                return False
        return all(ranges_contain(self.ranges.get(n, ()), r) for n, r in other.ranges.items())

    def is_empty(self) -> bool:
        return not self.scalars and not self.ranges

    def offerable(self) -> bool:
        """Mesos offers an agent only with at least 0.01 cpus or 32 MB of memory free."""
        return self.scalars.get("cpus", 0.0) >= 0.01 or self.scalars.get("mem", 0.0) >= 32


class ResourceLedger:
    """One agent's resources: its total, what tasks and executors hold, what sits in offers.

    The master (offers), the agent (launches, executor exits, framework removal) and the status
    update manager (terminal tasks) all move an agent's resources; only these methods change
    them, so `available()` = total - used - offered holds whoever moved them last.
    """

    def __init__(self, total: Resources) -> None:
        self._total = total
        self._used = Resources()
        self._offered = Resources()
        self._available: Resources | None = None
        """total - used - offered, kept until one of them moves: an allocation round looks at
        every agent, and one that did not change is answered with the same object."""

    @property
    def total(self) -> Resources:
        return self._total

    @property
    def used(self) -> Resources:
        """Held by launched tasks (until terminal) and by executors (until they exit)."""
        return self._used

    @property
    def offered(self) -> Resources:
        """In outstanding offers: not offered again until accepted, declined or rescinded."""
        return self._offered

    def available(self) -> Resources:
        """What the next allocation may offer (the same object until something moves)."""
        if self._available is None:
            self._available = self._total - self._used - self._offered
        return self._available

    def offer(self, resources: Resources) -> None:
        """An offer went out with `resources`."""
        self._offered = self._offered + resources
        self._available = None

    def drop_offer(self, resources: Resources) -> None:
        """An offer ended (accepted, declined, rescinded or reclaimed): its resources are no
        longer offered; an ACCEPT then claims what it launches."""
        self._offered = self._offered - resources
        self._available = None

    def claim(self, resources: Resources) -> None:
        """A task was handed to the agent, or an executor started."""
        self._used = self._used + resources
        self._available = None

    def release(self, resources: Resources) -> None:
        """A task became terminal (or was dropped with its framework), or an executor exited."""
        self._used = self._used - resources
        self._available = None


def attributes_json(attributes: dict[str, str | float]) -> list[Json]:
    """Agent attributes: numbers as SCALAR, everything else as TEXT."""
    out: list[Json] = []
    for name, value in sorted(attributes.items()):
        if isinstance(value, bool) or not isinstance(value, int | float):
            out.append({"name": name, "type": "TEXT", "text": {"value": str(value)}})
        else:
            out.append({"name": name, "type": "SCALAR", "scalar": {"value": float(value)}})
    return out
