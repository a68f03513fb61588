"""Reconnect pacing for both Mesos clients: exponential backoff with jitter. Pure (random injected).

Equal jitter: delay n is uniform in [d/2, d] with d = min(maximum, initial * factor**n). The
lower bound never reaches zero, so no failure mode (refused connection, ERROR + close, instant
EOF) can make a client reconnect in a tight loop.
"""

from __future__ import annotations

import random
from collections.abc import Callable


class Backoff:
    """Delays between attempts; `reset()` once a connection has proved stable."""

    def __init__(
        self,
        *,
        initial: float = 0.5,
        maximum: float = 15.0,
        factor: float = 2.0,
        rng: Callable[[], float] = random.random,
    ) -> None:
        if initial <= 0 or maximum < initial or factor < 1:
            raise ValueError("backoff needs 0 < initial <= maximum and factor >= 1")
        self.initial = initial
        self.maximum = maximum
        self.factor = factor
        self._rng = rng
        self._attempt = 0

    @property
    def attempt(self) -> int:
        """How many delays were handed out since the last reset."""
        return self._attempt

    def ceiling(self) -> float:
        """The upper bound of the next delay."""
        return min(self.maximum, self.initial * self.factor ** min(self._attempt, 64))

    def next_delay(self) -> float:
        d = self.ceiling()
        self._attempt += 1
        return d / 2 + (d / 2) * self._rng()

    def reset(self) -> None:
        self._attempt = 0
