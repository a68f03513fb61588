"""Where a transition of real tasks spends its wall time, for real_tasks_bench.

A DEPLOY of N real processes is three waits in a row: the executors spawn the N processes,
each interpreter starts and answers OCC (GetState: STANDBY, which the executor reports and the
Task's status shows), then the manager sees every Task ready and marks the environment
DEPLOYED. `Phases` samples the first two while a transition runs (the task processes under the
cluster, from /proc, and the Tasks' OCC states, from the store) and records when each first
reached N, in seconds from the transition's start.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from crds.kinds.task import Task
from store.api import Store

Json = dict[str, Any]
SAMPLE_SECONDS = 0.5
PERIOD_PER_TASK = 0.002
"""The period grows with N (2 s at 1,000 tasks, at least SAMPLE_SECONDS): each sample lists the
N Tasks, and decoding them takes CPU from the very processes being timed."""


class Phases:
    """Samples one transition: `spawned` (N task processes alive: DEPLOY only) and `answered`
    (N Tasks whose OCC state is `state`), seconds after `started`."""

    def __init__(
        self,
        store: Store,
        *,
        tasks: int,
        state: str,
        count_processes: Callable[[], int] | None,
    ) -> None:
        self._store = store
        self._tasks = tasks
        self._state = state
        self._count_processes = count_processes
        self._started = time.perf_counter()
        self._now: float | None = None
        """Set by `finish`: the time every mark set from then on gets."""
        self.marks: Json = {}

    async def finish(self, wall: float) -> None:
        """One last sample once the environment showed the state after `wall` seconds: a mark
        first seen now is recorded as `wall` (an upper bound: the step was quicker than the
        sampling period)."""
        if self._done():
            return
        self._now = wall
        await self._sample()

    async def run(self) -> None:
        """Sample until both marks are set (cancel it when the transition is over)."""
        while True:
            await self._sample()
            if self._done():
                return
            await asyncio.sleep(max(SAMPLE_SECONDS, self._tasks * PERIOD_PER_TASK))

    def _done(self) -> bool:
        wanted = {"answered_seconds"}
        if self._count_processes is not None:
            wanted.add("spawned_seconds")
        return wanted <= self.marks.keys()

    async def _sample(self) -> None:
        count = self._count_processes
        pending = count is not None and "spawned_seconds" not in self.marks
        if pending and count is not None and await asyncio.to_thread(count) >= self._tasks:
            self._mark("spawned_seconds")
        unspawned = count is not None and "spawned_seconds" not in self.marks
        if "answered_seconds" not in self.marks and not unspawned:  # none answers unspawned
            listed = await self._store.list(Task)
            if sum(t.status.state == self._state for t in listed.items) >= self._tasks:
                self._mark("answered_seconds")

    def _mark(self, name: str) -> None:
        now = self._now if self._now is not None else time.perf_counter() - self._started
        self.marks[name] = now


def phase_text(event: str, row: Json) -> str:
    """One line: the transition's marks (`-` for one never reached) and its end."""
    marks = row.get("phases", {})
    names = (("spawned", "spawned_seconds"),) if event == "DEPLOY" else ()
    parts = [
        f"{name} {marks[key]:.1f} s" if key in marks else f"{name} -"
        for name, key in (*names, ("answered OCC", "answered_seconds"))
    ]
    return f"{event:<16}" + ", ".join([*parts, f"environment {row['wall_seconds']:.1f} s"])
