"""The garbage collector's setting for o2's long-running processes (the manager, the local
cluster): fewer passes, and what survived a pass moved out of its way until the next whole one."""

from __future__ import annotations

import gc
import threading
import time
from typing import Any

LONG_LIVED_THRESHOLDS = (200_000, 10, 20)
"""The collector's generation thresholds (CPython's default is (700, 10, 10)). Both processes
hold millions of long-lived objects (the manager's informer caches; the cluster's TaskInfos,
statuses and update streams, tens of containers per task), and every young pass walks the
objects allocated since the last one that are still alive, a full one the whole heap each time
it grew a quarter. Cycles are rare in o2's code; garbage is freed by reference count.
Measured (gc.callbacks, quiet machine): the manager over 50,000 tasks DEPLOY+CONFIGURE+START,
(50_000, 20, 20) 6.4 s of 69.8 s CPU in 182 collections, these 5.2 s of 67.9 s in 36, the same
RSS, at 10,000 tasks 0.80 -> 0.53 s; the cluster launching 50,000 hollow tasks on 500 agents
in-process 9.1-10.3 s CPU with the defaults (15 full passes over up to 1.3 million objects)
against 4.9-5.0 s with these (none), 10,000 on 50 agents 1.44-1.48 -> 0.99-1.08 s."""

WHOLE_PASS_SECONDS = 600.0
"""The longest a busy process goes without a whole pass (`Freezer.whole_pass`)."""

QUIET_SECONDS = 5.0
"""A process with no collection for this long is idle: its whole pass runs then (at most once
a minute, `MIN_WHOLE_PASS_SECONDS`), rather than in the middle of its next burst of work."""

MIN_WHOLE_PASS_SECONDS = 60.0


class Freezer:
    """Freezes the survivors of every collection (gc.callbacks): a long-lived object is walked
    once, by the young pass after it was made, not again by each middle pass (a second walk of
    the up to two million survivors of ten young passes: 0.8-1.2 s at 50,000 tasks) and each
    full one (the whole heap: ~1 s at 50,000). Cyclic garbage made of objects that were frozen
    is not freed by those passes: `whole_pass` (unfreeze, a full collection, freeze again) frees
    it, from a daemon thread, only when a collection froze survivors since the last whole pass
    (an idle process has none): once the process is quiet (`quiet` seconds without a
    collection, `least` seconds after the last whole pass at least), or after `every` seconds
    of work without a quiet moment. What such garbage holds is bounded by what the process
    frees in cycles over `every` seconds; garbage made and dropped between two collections is
    freed by the young pass as before. Measured (hack.bench.gcstats, control_bench at 50,000
    tasks in one process): the collector's CPU 9.1 -> see the report."""

    def __init__(
        self,
        every: float = WHOLE_PASS_SECONDS,
        *,
        quiet: float = QUIET_SECONDS,
        least: float = MIN_WHOLE_PASS_SECONDS,
    ) -> None:
        self.every, self.quiet, self.least = every, quiet, least
        self.frozen = 0
        """Collections whose survivors were frozen since the last whole pass."""
        self.whole_passes = 0
        self.collected_at = time.monotonic()
        self._passing = False
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "stop" and not self._passing:
            gc.freeze()
            self.frozen += 1
            self.collected_at = time.monotonic()

    def whole_pass(self) -> int:
        """Unfreeze, collect the whole heap, freeze what survived; the objects it freed."""
        self._passing = True
        try:
            self.frozen = 0
            gc.unfreeze()
            freed = gc.collect()
        finally:
            gc.freeze()
            self._passing = False
        self.whole_passes += 1
        return freed

    def start(self) -> None:
        gc.callbacks.append(self)
        self._thread = threading.Thread(target=self._run, name="gc-whole-pass", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Out of gc.callbacks, the thread ended; what is frozen stays frozen."""
        if self in gc.callbacks:
            gc.callbacks.remove(self)
        self._stopped.set()
        if self._thread is not None:
            self._thread.join()

    def due(self, now: float, last: float) -> bool:
        """Whether a whole pass is due at `now`, the last one at `last`."""
        if not self.frozen:
            return False
        quiet = now - self.collected_at >= self.quiet and now - last >= self.least
        return quiet or now - last >= self.every

    def _run(self) -> None:
        last = time.monotonic()
        while not self._stopped.wait(min(self.quiet, self.every) / 2):
            now = time.monotonic()
            if self.due(now, last):
                self.whole_pass()
                last = time.monotonic()


def tune_gc(*, every: float = WHOLE_PASS_SECONDS, quiet: float = QUIET_SECONDS) -> Freezer:
    """Freeze what exists (the imports), set `LONG_LIVED_THRESHOLDS`, and freeze the survivors
    of every collection from now on (`Freezer`); once, at start."""
    gc.freeze()
    gc.set_threshold(*LONG_LIVED_THRESHOLDS)
    freezer = Freezer(every, quiet=quiet, least=min(every, MIN_WHOLE_PASS_SECONDS))
    freezer.start()
    return freezer
