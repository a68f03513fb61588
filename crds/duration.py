"""Durations as users write them ("10s", "1m30s", "500ms"). Pure: parsing and a field type."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

_UNITS: dict[str, float] = {
    "h": 3600.0,
    "m": 60.0,
    "s": 1.0,
    "ms": 1e-3,
    "us": 1e-6,
    "µs": 1e-6,
    "ns": 1e-9,
}
_PART = re.compile(r"(\d+(?:\.\d+)?|\.\d+)(h|ms|m|s|us|µs|ns)")


def parse_duration(text: str) -> float:
    """Seconds in a Go-style duration: one or more `<number><unit>` with units h, m, s, ms, us, ns.

    A bare "0" is accepted (as Go does). Anything else raises ValueError naming the input.
    """
    value = text.strip()
    if value == "0":
        return 0.0
    pos = 0
    total = 0.0
    for match in _PART.finditer(value):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if pos == 0 or pos != len(value):
        raise ValueError(
            f"{text!r} is not a duration: write a number with a unit, "
            "e.g. '500ms', '10s', '1m30s', '2h'"
        )
    return total


def format_duration(seconds: float) -> str:
    """The shortest common form of `seconds` that parse_duration reads back ("1m30s", "250ms")."""
    if seconds < 1 and seconds != 0:
        return f"{round(seconds * 1000)}ms"
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [
        f"{hours}h" if hours else "",
        f"{minutes}m" if minutes else "",
        f"{secs}s" if secs else "",
    ]
    return "".join(parts) or "0s"


def _check_duration(value: str) -> str:
    parse_duration(value)
    return value


def _check_templated_duration(value: str) -> str:
    if "{{" in value:
        return value
    return _check_duration(value)


Duration = Annotated[str, AfterValidator(_check_duration)]
"""A duration string, validated on input and kept as written on the wire."""

TemplatedDuration = Annotated[str, AfterValidator(_check_templated_duration)]
"""A duration, or a `{{ }}` template evaluated later (checked when it is rendered)."""
