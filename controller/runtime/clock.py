"""The time reconcilers read: wall clock and monotonic, one object on the Context. No I/O.

Reconcilers take `now` from `ctx.clock` instead of calling `utcnow()`/`time.monotonic()`, so
a test moves time with a FakeClock instead of sleeping.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol

from crds.meta import utcnow


class Clock(Protocol):
    def now(self) -> datetime:
        """Wall-clock time (UTC): what goes into resources (timestamps, deadlines)."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back: intervals measured in memory."""
        ...


class SystemClock:
    """The real clocks."""

    def now(self) -> datetime:
        return utcnow()

    def monotonic(self) -> float:
        return time.monotonic()


class FakeClock:
    """Both clocks stand still until `advance` moves them together."""

    def __init__(self, start: datetime = datetime(2026, 1, 1, tzinfo=UTC)) -> None:
        self._now = start
        self._monotonic = 0.0

    def now(self) -> datetime:
        return self._now

    def monotonic(self) -> float:
        return self._monotonic

    def advance(self, seconds: float) -> None:
        self._now += timedelta(seconds=seconds)
        self._monotonic += seconds
