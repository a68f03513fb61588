"""In-memory stand-in for SchedulerClient, for unit tests of the task controller. No I/O.

Same surface as the real client (events(), call() and every typed call from SchedulerCalls,
framework_id, connected, start/close): tests push events in with `push()` and read what the
controller sent from `calls`. Both are checked by one contract suite (tests/mesos).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Self

from controller.mesos.calls import SchedulerCalls
from controller.mesos.client import Disconnected
from crds.errors import MesosUnavailableError
from mesosapi.models import FrameworkId, TaskStatus
from mesosapi.scheduler import Acknowledge, SchedulerCall, SchedulerEvent, Subscribed


class FakeSchedulerClient(SchedulerCalls):
    """Records calls; delivers pushed events; refuses calls while not subscribed, like Mesos."""

    def __init__(self, *, framework_id: FrameworkId | None = None) -> None:
        self.calls: list[SchedulerCall] = []
        self._framework_id = framework_id
        self._queue: asyncio.Queue[SchedulerEvent | None] = asyncio.Queue()
        self._subscribed = asyncio.Event()
        self.gates: dict[type[SchedulerCall], asyncio.Event] = {}
        """Calls of these types wait for their event before they count as sent (the real
        master may process concurrent calls in any order; tests use this to reorder them)."""

    async def __aenter__(self) -> Self:
        self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def start(self) -> None:
        return None

    async def close(self, *, teardown: bool = False) -> None:
        self._queue.put_nowait(None)

    @property
    def framework_id(self) -> FrameworkId | None:
        return self._framework_id

    @property
    def connected(self) -> bool:
        return self._subscribed.is_set()

    async def wait_subscribed(self) -> FrameworkId:
        await self._subscribed.wait()
        assert self._framework_id is not None
        return self._framework_id

    def push(self, event: SchedulerEvent) -> None:
        """Deliver `event` as if it came from the master (SUBSCRIBED / Disconnected switch
        the connection state as the real client does)."""
        if isinstance(event, Subscribed):
            self._framework_id = event.framework_id
            self._subscribed.set()
        elif isinstance(event, Disconnected):
            self._subscribed.clear()
        self._queue.put_nowait(event)

    async def events(self) -> AsyncIterator[SchedulerEvent]:
        while True:
            event = await self._queue.get()
            if event is None:
                return
            yield event

    async def call(self, call: SchedulerCall) -> None:
        if not self._subscribed.is_set():
            raise MesosUnavailableError(f"cannot send {call.TYPE}: not subscribed to Mesos")
        gate = self.gates.get(type(call))
        if gate is not None:
            await gate.wait()
        self.calls.append(call)

    def acknowledge_soon(self, status: TaskStatus) -> bool:
        """Records the ACK at once (the real client sends it from a worker pool)."""
        if status.uuid is None or status.agent_id is None or not self.connected:
            return False
        self.calls.append(
            Acknowledge(agent_id=status.agent_id, task_id=status.task_id, uuid=status.uuid)
        )
        return True

    async def drain_acks(self) -> None:
        return None

    def sent(self, kind: type[SchedulerCall]) -> list[SchedulerCall]:
        """The calls of one type, in order."""
        return [c for c in self.calls if isinstance(c, kind)]
