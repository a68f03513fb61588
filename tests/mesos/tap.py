"""Collect a client's events in the background so tests can wait for one by predicate."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import TypeVar

from controller.mesos import SchedulerClient
from mesosapi.scheduler import SchedulerEvent

E = TypeVar("E", bound=SchedulerEvent)


class EventTap:
    """Every event a SchedulerClient delivered, in order; `wait_for` blocks on a predicate."""

    def __init__(self, client: SchedulerClient) -> None:
        self.client = client
        self.events: list[SchedulerEvent] = []
        self._changed = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None

    async def _read(self) -> None:
        async for event in self.client.events():
            async with self._changed:
                self.events.append(event)
                self._changed.notify_all()

    async def wait_for(
        self,
        kind: type[E],
        pred: Callable[[E], bool] = lambda _e: True,
        *,
        after: int = 0,
        within: float = 15.0,
    ) -> tuple[int, E]:
        """The first event of `kind` matching `pred` at index >= `after`, and its index."""

        def find() -> tuple[int, E] | None:
            for i in range(after, len(self.events)):
                ev = self.events[i]
                if isinstance(ev, kind) and pred(ev):
                    return i, ev
            return None

        async with asyncio.timeout(within), self._changed:
            await self._changed.wait_for(lambda: find() is not None)
        found = find()
        assert found is not None
        return found

    def of(self, kind: type[E]) -> list[E]:
        return [e for e in self.events if isinstance(e, kind)]


@contextlib.asynccontextmanager
async def tapped(client: SchedulerClient) -> AsyncIterator[EventTap]:
    """Start `client`, tap its events, and close it (without teardown) on exit."""
    tap = EventTap(client)
    client.start()
    tap._task = asyncio.create_task(tap._read())
    try:
        yield tap
    finally:
        await client.close()
        tap._task.cancel()
        await asyncio.gather(tap._task, return_exceptions=True)
