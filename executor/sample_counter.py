"""The sample task's data counter and log lines, shared by its basic mode (executor.sample_task)
and its OCC-driven task (executor.sample_occ). Pure but for stdout."""

from __future__ import annotations

import time

TICK_SECONDS = 1.0


def say(line: str) -> None:
    print(line, flush=True)


class DataCounter:
    """Counts events at `rate`/s from the monotonic clock, so ticks may be coarse and late."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.total = 0.0
        self._since: float | None = None

    def start(self) -> None:
        self._since = time.monotonic()

    def stop(self) -> None:
        self.update()
        self._since = None

    def update(self) -> int:
        if self._since is not None:
            now = time.monotonic()
            self.total += (now - self._since) * self.rate
            self._since = now
        return int(self.total)
