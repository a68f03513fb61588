"""Shared state of the framework driver for one leadership term: config, caches, the status
writer, wake-ups, and the helpers every part uses. The parts are split by concept:
controller.tasks.offers (placement and launches), controller.tasks.control (transitions, kills,
executor reports), controller.tasks.framework (the subscription and Mesos updates)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from controller.mesos import FakeSchedulerClient, SchedulerClient
from controller.runtime.reconciler import Context
from controller.runtime.status import with_conditions
from controller.tasks import status as st
from controller.tasks.launch import LaunchConfig, executor_info
from controller.tasks.writer import StatusWriter
from crds.errors import MesosUnavailableError
from crds.kinds.node import Node
from crds.kinds.task import TERMINAL_PHASES, Task, TaskStatus
from mesosapi.models import FrameworkId

log = logging.getLogger(__name__)

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
    """All tasks are looked at this often: a safety net (a change wakes its own task at once,
    due resends are found every tick); with 10,000 tasks a pass is not free."""
    revive_interval: float = 0.2
    """At most one REVIVE per this many seconds while new tasks keep appearing."""
    unplaced_grace: float = 1.0
    """A task that fit no offer for this long is reported unschedulable (see _note_unplaced)."""


FINALIZER = "o2.tasks/kill"
"""Held by every Task this controller may launch: deleting the Task kills its process first."""


def task_name_of(mesos_task_id: str) -> str:
    """Mesos task ids are `<task name>.<launch id>`."""
    return mesos_task_id.rsplit(".", 1)[0]


class FrameworkState:
    """What every part of the driver shares."""

    def __init__(
        self,
        ctx: Context,
        config: FrameworkConfig,
        *,
        client_factory: Callable[[FrameworkId | None], FrameworkClient],
    ) -> None:
        self.ctx = ctx
        self.config = config
        self._client_factory = client_factory
        self.client: FrameworkClient | None = None
        self.tasks = ctx.cache(Task)
        self.nodes = ctx.cache(Node)
        self.writer = StatusWriter(
            lambda: self.ctx.store, self.tasks, finish=self._finish, on_written=self._written
        )
        self.unplaced: dict[str, str] = {}
        self._inflight: dict[str, tuple[str, float]] = {}
        self._digests: dict[str, str] = {}
        """Properties digest of each CONFIGURE in flight, by transition id."""
        self._dirty = asyncio.Event()
        self._suppressed: bool | None = None
        self._revived_for: set[str] = set()
        self._last_revive = -1e9
        self._wake_timer: asyncio.TimerHandle | None = None
        self._wake_later_names: set[str] = set()
        """Tasks whose REVIVE waits for `revive_interval` (see OfferHandling._wake_later)."""
        self._unplaced_since: dict[str, float] = {}
        """When each pending task first fit no offer (loop time)."""
        self._unlaunched: set[str] | None = None
        """Names whose stored status is Pending without a Mesos task (None: not built yet)."""
        self._dirty_names: set[str] = set()
        self._full = True
        self._last_full = -1e9
        self._killed: dict[str, float] = {}
        self._reports: dict[str, int] = {}
        self._background: set[asyncio.Future[None]] = set()
        self.executor = executor_info(config.launch)

    # ---- lifecycle ------------------------------------------------------------------------

    def wake(self, *names: str) -> None:
        """Tasks changed: look again at them (at all tasks when none is named) for pending
        launches and due transitions. Every `full_pass` all tasks are looked at anyway."""
        if names:
            self._dirty_names.update(names)
        else:
            self._full = True
        self._dirty.set()

    def _live_tasks(self, names: Iterable[str] | None = None) -> list[Task]:
        out = []
        for name in self.tasks.names() if names is None else names:
            task = self.writer.view(name)
            if task is not None and task.status.phase not in TERMINAL_PHASES:
                out.append(task)
        return out

    def pending(self, names: Iterable[str] | None = None) -> list[Task]:
        """Tasks waiting for a launch (of `names`, or all: then only the candidates are looked
        at, which keeps an offer round O(pending) with 10,000 tasks running)."""
        candidates = self._launch_candidates()
        names = candidates if names is None else [n for n in names if n in candidates]
        return [
            t
            for t in self._live_tasks(names)
            if t.status.phase == "Pending"
            and not t.status.mesos_task_id
            and t.metadata.deletion_timestamp is None
            and FINALIZER in t.metadata.finalizers  # else its deletion could not kill it
        ]

    def _launch_candidates(self) -> set[str]:
        """Tasks whose stored status is unlaunched (from cache events and our own writes), and
        those sent back to Pending by a change not stored yet (`_requeue_launch`)."""
        if self._unlaunched is None:  # first use this term: from the cache
            self._unlaunched = {n for n in self.tasks.names() if _unlaunched(self.tasks.get(n))}
        return self._unlaunched

    def _requeue_launch(self, name: str) -> None:
        """A status change about to make `name` Pending again (a launch that never happened)."""
        self._launch_candidates().add(name)

    def _track_launch(self, name: str, task: Task | None) -> None:
        """Keep the candidates of `pending()` current (cache events and our own writes)."""
        if self._unlaunched is None:
            return
        if task is not None and _unlaunched(task):
            self._unlaunched.add(name)
        else:
            self._unlaunched.discard(name)
            self._unplaced_since.pop(name, None)

    # ---- status finishing and events ---------------------------------------------------------

    def _finish(self, task: Task, status: TaskStatus, now: datetime) -> TaskStatus:
        probe = task.model_copy(update={"status": status})
        unplaced = self.unplaced.get(task.name) if status.phase == "Pending" else None
        conds = st.conditions(probe, unplaced=unplaced)
        new = status.model_copy(update={"observed_generation": task.metadata.generation})
        return with_conditions(new, conds, generation=task.metadata.generation, now=now)

    def _written(self, before: Task, after: Task) -> None:
        self._track_launch(after.name, after)
        old, new = before.status.phase, after.status.phase
        if old == new:
            return
        deleting = after.metadata.deletion_timestamp is not None
        if new in ("Failed", "Lost") or (new == "Killed" and not deleting):
            self.ctx.events.event(
                after, reason=f"Task{new}", message=after.status.message, warning=True
            )
        elif new == "Running":
            self.ctx.events.event(
                after,
                reason="Started",
                message=f"pid {after.status.pid} on {after.status.hostname}",
            )

    def _client(self) -> FrameworkClient:
        if self.client is None:
            raise MesosUnavailableError("the task framework is not running")
        return self.client

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)


def _unlaunched(task: Task | None) -> bool:
    return task is not None and task.status.phase == "Pending" and not task.status.mesos_task_id
