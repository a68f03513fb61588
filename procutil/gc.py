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
"""The longest a process that keeps collecting goes without a whole pass
(`Freezer.whole_pass`); an idle one (no collection since its last) needs none."""


class Freezer:
    """Freezes the survivors of every collection (gc.callbacks): a long-lived object is walked
    once, by the young pass after it was made, not again by each middle pass (a second walk of
    the up to two million survivors of ten young passes: 0.6-1.2 s at 50,000 tasks, in
    CONFIGURE or START) and each full one. Cyclic garbage made of objects that were frozen is
    not freed by those passes: `whole_pass` (unfreeze, a full collection, freeze again) frees
    it, from a daemon thread, `every` seconds after the last one, and only when a collection
    froze survivors since (an idle process has none): such garbage is bounded by what the
    process frees in cycles over `every` seconds of work; garbage made and dropped between two
    collections is freed by the young pass as before. A whole pass also when the frozen heap
    grew fourfold was tried: at 50,000 tasks it ran in DEPLOY (manager 0.45-0.59 s, the local
    cluster 0.52-0.54 s) and DEPLOY took 26.8-28.3 s against 26.9-27.1 s without it.
    Measured (hack.bench.gcstats, environments_bench at 50,000 tasks, quiet machine, two runs):
    the manager's collections over DEPLOY+CONFIGURE+START 1.57 / 1.63 s (none but young
    passes) against 2.24 / 2.36 s with CPython's middle passes; the cluster's 0.52 / 0.47
    against 1.03 / 1.05 s."""

    def __init__(self, every: float = WHOLE_PASS_SECONDS) -> None:
        self.every = every
        self.frozen = 0
        """Collections whose survivors were frozen since the last whole pass."""
        self.whole_passes = 0
        self._passing = False
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "stop" and not self._passing:
            gc.freeze()
            self.frozen += 1

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

    def due(self, now: float, last: float) -> bool:
        """Whether a whole pass is due at `now`, the last one at `last`."""
        return bool(self.frozen) and now - last >= self.every

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

    def _run(self) -> None:
        last = time.monotonic()
        while not self._stopped.wait(min(1.0, self.every / 2)):
            if self.due(time.monotonic(), last):
                self.whole_pass()
                last = time.monotonic()


def tune_gc(*, every: float = WHOLE_PASS_SECONDS) -> Freezer:
    """Freeze what exists (the imports), set `LONG_LIVED_THRESHOLDS`, and freeze the survivors
    of every collection from now on (`Freezer`); once, at start."""
    gc.freeze()
    gc.set_threshold(*LONG_LIVED_THRESHOLDS)
    freezer = Freezer(every)
    freezer.start()
    return freezer
