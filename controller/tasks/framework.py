"""The framework driver: one Mesos subscription per leadership term, turning events into Task
status and Task changes into Mesos calls. The task reconciler's term hooks call `start()` and
`stop(graceful=...)`; between them a supervisor keeps `run()` going (restarted with backoff if
one of its loops dies, given up when a write is fenced: the term is over). I/O lives here
(Mesos client, store through the status writer); every decision is delegated to the pure
`placement` and `status` modules.

Adoption: the framework id is kept at `<prefix>/runtime/mesos/framework-id`, so a restarted
(or newly elected) controller subscribes as the same framework. After SUBSCRIBED it reconciles
explicitly every Task that has a Mesos task id, then implicitly, and asks every executor for
its task table: running tasks are adopted as they are (same pid), never relaunched.
Strays (Mesos tasks of this framework that no Task claims) are KILLED: a Task is written with
its Mesos task id before the ACCEPT that launches it, so a stray is a launch whose Task was
deleted, and nothing would ever control it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence

from controller.mesos import Disconnected, SchedulerClient
from controller.runtime.reconciler import Context
from controller.tasks import status as st
from controller.tasks.base import (
    FrameworkClient,
    FrameworkConfig,
    FrameworkState,
    task_name_of,
)
from controller.tasks.control import ControlHandling
from controller.tasks.offers import OfferHandling
from crds.errors import FencedError, MesosCallError, MesosUnavailableError, O2Error
from crds.kinds.task import Task
from mesosapi.models import AgentId, FrameworkId, TaskId
from mesosapi.models import TaskStatus as MesosStatus
from mesosapi.scheduler import Error, Failure, Message, Offers, SchedulerEvent, Subscribed, Update
from store.informer import CacheEvent

log = logging.getLogger(__name__)

FRAMEWORK_ID_KEY = "runtime/mesos/framework-id"
RESTART_MIN = 0.5
RESTART_MAX = 30.0
"""Backoff bounds (seconds) between restarts of a failed subscription within one term."""
FLUSH_TIMEOUT = 2.0

__all__ = ["FrameworkConfig", "FrameworkState", "TaskFramework", "task_name_of"]


class TaskFramework(OfferHandling, ControlHandling):
    """One per task controller; `start()`/`stop()` bracket each leadership term."""

    def __init__(
        self,
        ctx: Context,
        config: FrameworkConfig,
        *,
        client_factory: Callable[[FrameworkId | None], FrameworkClient],
    ) -> None:
        super().__init__(ctx, config, client_factory=client_factory)
        self.nodes.add_handler(self._on_node_change)
        self.tasks.add_handler(self._on_task_change)
        self._term: asyncio.Task[None] | None = None
        self._graceful_stop = False

    @property
    def term(self) -> asyncio.Task[None] | None:
        """The supervisor of this term's subscription (done once it gave up), or None."""
        return self._term

    def start(self) -> None:
        """Subscribe for this leadership term (in the background; returns at once)."""
        if self._term is None or self._term.done():
            self._graceful_stop = False
            self._term = asyncio.create_task(self._supervise(), name="task-framework")

    async def stop(self, *, graceful: bool) -> None:
        """End the term's subscription now; `graceful`: flush pending status writes first."""
        term, self._term = self._term, None
        if term is None:
            return
        self._graceful_stop = graceful
        term.cancel()
        await asyncio.gather(term, return_exceptions=True)

    async def _supervise(self) -> None:
        """Keep `run()` going for the term; back off between restarts, give up when fenced."""
        delay = RESTART_MIN
        loop = asyncio.get_running_loop()
        while True:
            began = loop.time()
            error = "the event stream ended"
            try:
                await self.run()
            except FencedError as exc:
                log.error("Task framework fenced: stopping", extra={"error": str(exc)})
                return
            except O2Error as exc:  # expected (Mesos or etcd unavailable): no traceback
                error = str(exc)
            except Exception as exc:
                log.exception("Task framework crashed", extra={"error": str(exc)})
                error = f"{type(exc).__name__}: {exc}"
            if loop.time() - began > RESTART_MAX:
                delay = RESTART_MIN  # it ran for a while: a fresh failure, not a crash loop
            log.error("Task framework failed: restarting", extra={"error": error, "delay": delay})
            await asyncio.sleep(delay)  # backoff before resubscribing, not polling
            delay = min(delay * 2, RESTART_MAX)

    async def run(self) -> None:
        """Subscribe and drive until cancelled (the term ends) or one of the loops dies."""
        self._unlaunched = None  # rebuilt from the cache on first use
        framework_id = await self._load_framework_id()
        client = self.client = self._client_factory(framework_id)
        client.start()
        loops = [
            asyncio.create_task(self._consume(client), name="task-events"),
            asyncio.create_task(self.writer.run(), name="task-status-writer"),
            asyncio.create_task(self._control_loop(), name="task-control"),
            asyncio.create_task(self._reconcile_loop(), name="task-reconcile"),
        ]
        try:
            done, _ = await asyncio.wait(loops, return_when=asyncio.FIRST_COMPLETED)
            for loop in done:
                loop.result()  # a dead loop ends the run (and raises its error)
        finally:
            for loop in loops:
                loop.cancel()
            await asyncio.gather(*loops, return_exceptions=True)
            if self._graceful_stop:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self.writer.flush(), FLUSH_TIMEOUT)
            await client.close()
            self.client = None
            log.info("Task framework stopped")

    def _on_task_change(self, event: CacheEvent[Task]) -> None:
        """A new Task, a new desired state or new metadata: look at it at once, straight from
        the informer. Changes of status alone are ours, and the writer wakes for those."""
        old, new = event.old, event.new
        self._track_launch(event.name, new)
        if new is None:
            return
        if old is None or _wants_a_look(old, new):
            self.wake(event.name)

    async def _consume(self, client: FrameworkClient) -> None:
        async for event in client.events():
            await self._on_event(event)

    async def _control_loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._dirty.wait(), self.config.tick)
            self._dirty.clear()
            if self.client is None or not self.client.connected:
                continue
            dirty, self._dirty_names = self._dirty_names, set()
            now = asyncio.get_running_loop().time()
            names: set[str] | None = dirty | self._due_resends(now)
            if self._full or now - self._last_full >= self.config.full_pass:
                names, self._full, self._last_full = None, False, now
            try:
                await self._update_offer_interest(names)
                self.start_control_pass(names)
            except (MesosUnavailableError, MesosCallError) as exc:
                log.warning("Control pass failed", extra={"error": str(exc)})

    async def _load_framework_id(self) -> FrameworkId | None:
        raw = await self.ctx.kv.get_raw(self._framework_key())
        return FrameworkId(raw.value.decode()) if raw is not None and raw.value else None

    def _framework_key(self) -> str:
        return f"{self.ctx.store.prefix}/{FRAMEWORK_ID_KEY}"

    # ---- events ---------------------------------------------------------------------------

    async def _on_event(self, event: SchedulerEvent) -> None:
        try:
            if isinstance(event, Subscribed):
                await self._on_subscribed(event)
            elif isinstance(event, Offers):
                await self._on_offers(event.offers)
            elif isinstance(event, Update):
                self._on_update(event.status)
            elif isinstance(event, Message):
                self._on_message(event)
            elif isinstance(event, Failure):
                self._on_failure(event)
            elif isinstance(event, Disconnected):
                self._suppressed = None
                self._revived_for = set()
                self._inflight.clear()
            elif isinstance(event, Error):
                log.error("Mesos error", extra={"error": event.message})
                if "removed" in event.message.lower():
                    await self.ctx.kv.delete_raw(self._framework_key())
                    if isinstance(self.client, SchedulerClient):
                        self.client.forget_framework_id()
        except (MesosUnavailableError, MesosCallError) as exc:
            log.warning("Mesos call failed", extra={"event": event.TYPE, "error": str(exc)})

    async def _on_subscribed(self, event: Subscribed) -> None:
        await self.ctx.kv.put_raw(self._framework_key(), event.framework_id.encode())
        self._suppressed = None
        self._inflight.clear()
        client = self._client()
        known = [
            (
                TaskId(t.status.mesos_task_id),
                AgentId(t.status.agent_id) if t.status.agent_id else None,
            )
            for t in self._live_tasks()
            if t.status.mesos_task_id
        ]
        log.info(
            "Framework subscribed: reconciling",
            extra={"framework_id": event.framework_id, "tasks": len(known)},
        )
        if known:
            await client.reconcile(known)
        await client.reconcile()
        await self._request_reports()
        await self._update_offer_interest()
        self.wake()

    def _on_update(self, update: MesosStatus) -> None:
        name = task_name_of(update.task_id)
        task = self.writer.view(name)
        ack = self._acker(update)
        if task is None or task.status.mesos_task_id != update.task_id:
            self._on_stray(update, owned=task is not None)
            ack()
            return
        if self._never_launched(task, update):
            self._requeue_launch(name)
            self.writer.patch(name, st.back_to_pending, then=ack)
        else:
            self.writer.patch(name, lambda s: st.on_update(s, update), then=ack)
        self.wake(name)

    def _never_launched(self, task: Task, update: MesosStatus) -> bool:
        """A Staging task unknown to Mesos was written but never accepted (crash in between)."""
        return (
            task.status.phase == "Staging"
            and update.reason == "REASON_RECONCILIATION"
            and update.state in ("TASK_LOST", "TASK_UNKNOWN", "TASK_DROPPED", "TASK_GONE")
        )

    def _acker(self, update: MesosStatus) -> Callable[[], None]:
        def ack() -> None:
            if self.client is not None:
                self.client.acknowledge_soon(update)

        return ack

    def _on_stray(self, update: MesosStatus, *, owned: bool) -> None:
        if update.terminal:
            return
        log.warning(
            "Killing stray Mesos task",
            extra={"mesos_task": update.task_id, "agent": update.agent_id, "task_exists": owned},
        )
        self._spawn(self._kill(update.task_id, update.agent_id))

    def _on_failure(self, event: Failure) -> None:
        """An executor exited or an agent was lost: Mesos also sends its tasks' terminal
        updates, and an explicit reconcile of every live task there makes sure of it."""
        log.warning(
            "Mesos failure",
            extra={"agent": event.agent_id, "executor": event.executor_id, "status": event.status},
        )
        if event.agent_id is None:
            return
        self._reports.pop(event.agent_id, None)
        there = [
            (TaskId(t.status.mesos_task_id), AgentId(event.agent_id))
            for t in self._live_tasks()
            if t.status.agent_id == event.agent_id and t.status.mesos_task_id
        ]
        if there:
            self._spawn(self._reconcile_quietly(there))

    async def _reconcile_quietly(self, tasks: Sequence[tuple[TaskId, AgentId | None]]) -> None:
        try:
            await self._client().reconcile(tasks)
        except (MesosCallError, MesosUnavailableError) as exc:
            log.warning("Reconcile failed", extra={"error": str(exc), "tasks": len(tasks)})


def _wants_a_look(old: Task, new: Task) -> bool:
    """Whether a change is more than a status write (spec, deletion, finalizers, labels)."""
    a, b = old.metadata, new.metadata
    return (
        a.generation != b.generation
        or a.deletion_timestamp != b.deletion_timestamp
        or a.finalizers != b.finalizers
        or a.labels != b.labels
        or a.annotations != b.annotations
    )
