"""What every part of the task framework shares: its config, the kill finalizer, Mesos task ids,
the term's Mesos link and the control loop's wake-ups. No store, no decisions.

The parts (each owns its state; they meet only through public methods):
controller.tasks.writer (StatusWriter: batched status writes), controller.tasks.roster (Roster:
the tasks as the driver sees them), controller.tasks.backlog (Backlog: what waits for a launch),
controller.tasks.offers (OfferBook: placement, launches, REVIVE/SUPPRESS),
controller.tasks.control (ControlLedger: transitions, kills, executor reports), wired by the
coordinator controller.tasks.framework (TaskFramework: the subscription and Mesos updates).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from controller.mesos import FakeSchedulerClient, SchedulerClient
from controller.tasks.launch import LaunchConfig
from crds.errors import MesosUnavailableError
from crds.labels import KILL_TASK_FINALIZER

FrameworkClient = SchedulerClient | FakeSchedulerClient
"""The real client, or the in-memory fake in unit tests."""


@dataclass(frozen=True)
class FrameworkConfig:
    masters: tuple[str, ...]
    launch: LaunchConfig
    name: str = "o2"
    user: str = ""
    refuse_seconds: float = 5.0
    """DECLINE filter for offers that fit nothing pending."""
    idle_refuse_seconds: float = 60.0
    """DECLINE filter while no task is pending (SUPPRESS is sent too)."""
    control_timeout: float = 30.0
    """Deadline of each transition; a request unanswered for this long (+ margin) is resent."""
    control_margin: float = 2.0
    """Slack on top of the transitions' deadlines before a request counts as lost."""
    reconcile_period: float = 60.0
    """Explicit reconciliation + task-table requests on this timer."""
    tick: float = 0.5
    """The control loop looks for due resends at least this often."""
    full_pass: float = 5.0
    """A safety net this often (a change wakes its own task at once, due resends are found
    every tick): the tasks whose stored copy changed since their last look are looked at,
    and offer interest is weighed over all tasks."""
    thorough_pass: float = 60.0
    """Every task is planned, changed or not, this often: the safety net's own."""
    revive_interval: float = 0.2
    """At most one REVIVE per this many seconds while new tasks keep appearing."""
    unplaced_grace: float = 1.0
    """A task that fit no offer for this long is reported unschedulable (see
    OfferBook's note on unplaced tasks)."""
    unoffered_grace: float = 30.0
    """The same for a task whose constraints only an agent that has offered before (this term)
    meets: it waits for that agent's next offer, which may take longer than a round when
    rounds are slow (a large deploy on a loaded machine)."""


FINALIZER = KILL_TASK_FINALIZER
"""Held by every Task this controller may launch: deleting the Task kills its process first."""


def task_name_of(mesos_task_id: str) -> str:
    """Mesos task ids are `<task name>.<launch id>`."""
    return mesos_task_id.rsplit(".", 1)[0]


class Wake(Protocol):
    """`wake(*names)`: the control loop looks at these tasks soon; `wake(every=True)`: at every
    task (naming none asks for nothing: an empty list of changed tasks is no reason for a pass
    over all of them)."""

    def __call__(self, *names: str, every: bool = False) -> None: ...


class Link:
    """The term's Mesos client (none between subscriptions) and the calls sent on it in the
    background. The coordinator attaches and detaches the client; every part sends through it."""

    def __init__(self) -> None:
        self._client: FrameworkClient | None = None
        self._background: set[asyncio.Future[None]] = set()

    @property
    def client(self) -> FrameworkClient | None:
        return self._client

    @property
    def connected(self) -> bool:
        return self._client is not None and self._client.connected

    def attach(self, client: FrameworkClient) -> None:
        self._client = client

    def detach(self) -> None:
        self._client = None

    def require(self) -> FrameworkClient:
        """The client, for a call that cannot wait for the next subscription."""
        if self._client is None:
            raise MesosUnavailableError("the task framework is not running")
        return self._client

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Run a call in the background (the caller goes on at once); kept until it is done."""
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)


class Wakeups:
    """Which tasks the control loop looks at next: those named since its last pass, or all of
    them (when asked, and every `full_pass` seconds as a safety net). A timed full pass may be
    `thorough` (every task planned) or not (only tasks changed since their last look)."""

    def __init__(self, *, full_pass: float, thorough_pass: float = 60.0) -> None:
        self._full_pass = full_pass
        self._thorough_pass = thorough_pass
        self._event = asyncio.Event()
        self._names: set[str] = set()
        self._full = True
        self._asked = True
        self._last_full = -1e9
        self._last_thorough = -1e9

    def wake(self, *names: str, every: bool = False) -> None:
        """Tasks changed: look again at them (at all tasks with `every`; naming none and not
        `every` asks for nothing)."""
        if every:
            self._full = self._asked = True
        elif names:
            self._names.update(names)
        else:
            return
        self._event.set()

    async def wait(self, tick: float) -> None:
        """Until a wake-up, or `tick` seconds (due resends are looked for at least then)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(tick):
                await self._event.wait()
        self._event.clear()

    def take(self, *, now: float, also: set[str]) -> set[str] | None:
        """The names to look at now (with `also`), or None for every task."""
        names, self._names = self._names | also, set()
        if self._full or now - self._last_full >= self._full_pass:
            self._full, self._last_full = False, now
            return None
        return names

    def thorough(self, *, now: float) -> bool:
        """Whether the full pass about to be made plans every task, changed or not: when all
        were asked for by `wake(every=True)`, and every `thorough_pass` seconds."""
        return self.thorough_kind(now=now) is not None

    def thorough_kind(self, *, now: float) -> Literal["asked", "timed"] | None:
        """`thorough`, saying why: "asked" (by `wake(every=True)`), "timed" (the safety net's
        own timer), or None (not a thorough pass)."""
        kind: Literal["asked", "timed"]
        if self._asked:
            kind = "asked"
        elif now - self._last_thorough >= self._thorough_pass:
            kind = "timed"
        else:
            return None
        self._asked, self._last_thorough = False, now
        return kind
