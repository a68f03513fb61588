"""The task framework's coordinator: one Mesos subscription per leadership term, wiring the
parts that turn events into Task status and Task changes into Mesos calls. The task
reconciler's term hooks call `start()` and `stop(graceful=...)`; between them a supervisor keeps
`run()` going (restarted with backoff if one of its loops dies, given up when a write is fenced:
the term is over). Each part owns its state (see controller.tasks.base); the coordinator routes
events to them and offers the reconciler a small public API (`view`, `kill`, `forget`,
`unschedulable_reason`, `wake`).

Adoption: the framework id is kept at `<prefix>/runtime/mesos/framework-id`, so a restarted
(or newly elected) controller subscribes as the same framework. After SUBSCRIBED it reconciles
explicitly every Task that has a Mesos task id, then implicitly, and asks every executor for
its task table: running tasks are adopted as they are (same pid), never relaunched. Once Mesos
has answered for every live task (controller.tasks.answers), the reconciled record is put once.
Strays (Mesos tasks of this framework that no Task claims) are KILLED: a Task is written with
its Mesos task id before the ACCEPT that launches it, so a stray is a launch whose Task was
deleted, and nothing would ever control it.
A Staging Task reported unknown goes back to Pending: reconciliation asks about a launch only
once its ACCEPT was answered (controller.tasks.inflight), so that answer is not stale.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Callable, Coroutine, Iterable
from datetime import datetime
from typing import Any

from controller.mesos import Disconnected, SchedulerClient
from controller.runtime.reconciled import reconciled_key
from controller.runtime.reconciler import Context
from controller.tasks.answers import Answers
from controller.tasks.backlog import Backlog
from controller.tasks.base import FrameworkClient, FrameworkConfig, Link, Wakeups, task_name_of
from controller.tasks.control import ControlLedger
from controller.tasks.finish import StatusFinisher
from controller.tasks.inflight import LaunchesInFlight
from controller.tasks.launch import executor_info
from controller.tasks.offers import OfferBook
from controller.tasks.roster import Roster
from controller.tasks.shared import Shared
from controller.tasks.updates import MesosUpdates
from controller.tasks.writer import StatusWriter
from crds.errors import FencedError, MesosCallError, MesosUnavailableError, O2Error
from crds.kinds.environment import Environment, EnvironmentSpec
from crds.kinds.node import Node
from crds.kinds.task import Task, TaskStatus
from crds.meta import ObjectMeta
from mesosapi.models import FrameworkId
from mesosapi.scheduler import Error, Failure, Message, Offers, SchedulerEvent, Subscribed, Update
from store.informer import CacheEvent

log = logging.getLogger(__name__)

FRAMEWORK_ID_KEY = "runtime/mesos/framework-id"
RESTART_MIN = 0.5
RESTART_MAX = 30.0
"""Backoff bounds (seconds) between restarts of a failed subscription within one term."""
FLUSH_TIMEOUT = 2.0

__all__ = ["FrameworkConfig", "TaskFramework", "task_name_of"]


class TaskFramework:
    """One per task controller; `start()`/`stop()` bracket each leadership term."""

    def __init__(
        self,
        ctx: Context,
        config: FrameworkConfig,
        *,
        client_factory: Callable[[FrameworkId | None], FrameworkClient],
    ) -> None:
        self._ctx = ctx
        self._config = config
        self._client_factory = client_factory
        self._link = Link()
        self._wakeups = Wakeups(full_pass=config.full_pass, thorough_pass=config.thorough_pass)
        tasks, nodes = ctx.cache(Task), ctx.cache(Node)
        self._finisher = StatusFinisher(self._unplaced)
        self._writer = StatusWriter(
            lambda: ctx.store,
            tasks,
            finish=self._finish,
            on_written=self._written,
            on_settled=self._write_settled,
            catch_up=ctx.catch_up,
        )
        self._launches = LaunchesInFlight()
        self._roster = Roster(tasks, self._writer, self._launches)
        self._backlog = Backlog(tasks, self._roster)
        shared = Shared(
            config=config,
            link=self._link,
            roster=self._roster,
            writer=self._writer,
            events=ctx.events,
            executor=executor_info(config.launch),
            wake=self.wake,
        )
        self._offers = OfferBook(
            shared, backlog=self._backlog, nodes=nodes, launches=self._launches
        )
        self._control = ControlLedger(shared)
        self._updates = MesosUpdates(shared, backlog=self._backlog, control=self._control)
        self._answers = Answers(self._writer, record=self._record, spawn=self._link.spawn)
        nodes.add_handler(self._offers.on_node_change)
        tasks.add_handler(self._on_task_change)
        self._term: asyncio.Task[None] | None = None
        self._graceful_stop = False

    # ---- what the reconciler uses ------------------------------------------------------------

    @property
    def term(self) -> asyncio.Task[None] | None:
        """The supervisor of this term's subscription (done once it gave up), or None."""
        return self._term

    @property
    def client(self) -> FrameworkClient | None:
        """The term's Mesos client while a subscription runs."""
        return self._link.client

    def wake(self, *names: str, every: bool = False) -> None:
        """Tasks changed: look again at them (at all tasks with `every`; naming none asks for
        nothing) for pending launches and due transitions. Every `full_pass` all tasks are looked
        at anyway."""
        self._wakeups.wake(*names, every=every)

    def view(self, name: str) -> Task | None:
        """The task as its status will be once the queued writes are in."""
        return self._roster.view(name)

    async def kill(self, task: Task) -> None:
        """KILL the task's Mesos task (resent at most every few seconds)."""
        await self._control.kill(task)

    def forget(self, name: str) -> None:
        """The Task is gone for good (its finalizer removed): drop what is kept about it."""
        self._writer.forget(name)
        self._backlog.forget(name)
        self._control.forget(name)

    def unschedulable_reason(self, name: str) -> str | None:
        """Why the task fits no offer, once reported (None: it was not)."""
        return self._backlog.unschedulable_reason(name)

    # ---- the term ------------------------------------------------------------------------------

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
        self._backlog.restart()
        self._launches.stream_ended()  # the previous run's client is closed
        framework_id = await self._load_framework_id()
        client = self._client_factory(framework_id)
        self._link.attach(client)
        client.start()
        loops = [
            asyncio.create_task(self._consume(client), name="task-events"),
            asyncio.create_task(self._writer.run(), name="task-status-writer"),
            asyncio.create_task(self._control_loop(), name="task-control"),
            asyncio.create_task(self._reconcile_loop(), name="task-reconcile"),
        ]
        try:
            done, _ = await asyncio.wait(loops, return_when=asyncio.FIRST_COMPLETED)
            for loop in done:
                loop.result()  # a dead loop ends the run (and raises its error)
        finally:
            # to its end even when stop() cancels us meanwhile (a loop died, e.g. fenced, as
            # the term ended): a client left open keeps re-subscribing as our framework and
            # fails over the next leader's subscription, over and over
            await _to_the_end(self._end_run(client, loops))

    async def _end_run(self, client: FrameworkClient, loops: list[asyncio.Task[None]]) -> None:
        self._answers.end()
        for loop in loops:
            loop.cancel()
        await asyncio.gather(*loops, return_exceptions=True)
        if self._graceful_stop:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._writer.flush(), FLUSH_TIMEOUT)
        await client.close()
        self._link.detach()
        log.info("Task framework stopped")

    async def _load_framework_id(self) -> FrameworkId | None:
        raw = await self._ctx.kv.get_raw(self._framework_key())
        return FrameworkId(raw.value.decode()) if raw is not None and raw.value else None

    def _framework_key(self) -> str:
        return f"{self._ctx.store.prefix}/{FRAMEWORK_ID_KEY}"

    # ---- loops ---------------------------------------------------------------------------------

    async def _consume(self, client: FrameworkClient) -> None:
        async for event in client.events():
            await self._on_event(event)

    async def _control_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._wakeups.wait(self._config.tick)
            if not self._link.connected:
                continue
            now = loop.time()
            names = self._wakeups.take(now=now, also=self._control.due_resends(now))
            try:
                await self._offers.update_interest(names)
                self._control.start_control_pass(self._to_plan(names, now=now))
            except (MesosUnavailableError, MesosCallError) as exc:
                log.warning("Control pass failed", extra={"error": str(exc)})

    def _to_plan(self, names: set[str] | None, *, now: float) -> Iterable[str] | None:
        """The tasks a pass plans: those named; on a full pass, those changed since their last
        look (a pass over 10,000 tasks that did not change costs nothing), or every task on a
        thorough one (on the timed one and on any pass given names, those being written are
        looked at once written: ControlLedger._looks_now)."""
        if names is not None:
            return names
        kind = self._wakeups.thorough_kind(now=now)
        if kind is None:
            return self._control.take_unlooked()
        self._control.forget_looks()
        # the timed pass names every task, so that those being written are put off
        return self._roster.names() if kind == "timed" else None

    async def _reconcile_loop(self) -> None:
        while True:
            await asyncio.sleep(self._config.reconcile_period)
            if not self._link.connected:
                continue
            known, agents = self._roster.known_and_agents()
            try:
                if known:
                    await self._link.require().reconcile(known)
                await self._control.request_reports(agents)
            except (MesosUnavailableError, MesosCallError) as exc:
                log.warning("Periodic reconcile failed", extra={"error": str(exc)})

    # ---- events --------------------------------------------------------------------------------

    def _on_task_change(self, event: CacheEvent[Task]) -> None:
        """A new Task, a new desired state or new metadata: look at it at once, straight from
        the informer. Changes of status alone are ours, and the writer wakes for those."""
        old, new = event.old, event.new
        self._backlog.track(event.name, new)
        self._control.touched(event.name, new)
        if new is None:
            return
        if old is None or _wants_a_look(old, new):
            self.wake(event.name)

    async def _on_event(self, event: SchedulerEvent) -> None:
        try:
            if isinstance(event, Subscribed):
                await self._on_subscribed(event)
            elif isinstance(event, Offers):
                await self._offers.on_offers(event.offers)
            elif isinstance(event, Update):
                self._updates.on_update(event.status)
                self._answers.answer(event.status)
            elif isinstance(event, Message):
                self._control.on_message(event)
            elif isinstance(event, Failure):
                self._updates.on_failure(event)
            elif isinstance(event, Disconnected):
                self._offers.on_disconnected()
                self._control.forget_requests()
            elif isinstance(event, Error):
                await self._on_error(event)
        except (MesosUnavailableError, MesosCallError) as exc:
            log.warning("Mesos call failed", extra={"event": event.TYPE, "error": str(exc)})

    async def _on_subscribed(self, event: Subscribed) -> None:
        await self._ctx.kv.put_raw(self._framework_key(), event.framework_id.encode())
        self._offers.on_subscribed()
        self._control.forget_requests()
        client = self._link.require()
        known = self._roster.known()
        log.info(
            "Framework subscribed: reconciling",
            extra={"framework_id": event.framework_id, "tasks": len(known)},
        )
        self._answers.begin(task_id for task_id, _ in known)
        if known:
            await client.reconcile(known)
        await client.reconcile()
        await self._control.request_reports()
        await self._offers.update_interest()
        self.wake(every=True)

    async def _record(self) -> None:
        """Mesos answered for every live task and the answers are written: say so, once."""
        await self._ctx.kv.put_raw(
            reconciled_key(self._ctx.store.prefix), self._ctx.identity.encode()
        )
        log.info("Reconciliation after subscribing done")

    async def _on_error(self, event: Error) -> None:
        log.error("Mesos error", extra={"error": event.message})
        if "removed" in event.message.lower():
            await self._ctx.kv.delete_raw(self._framework_key())
            client = self._link.client
            if isinstance(client, SchedulerClient):
                client.forget_framework_id()

    # ---- the status writer's hooks -------------------------------------------------------------

    def _finish(self, task: Task, status: TaskStatus, now: datetime) -> TaskStatus:
        """Conditions and observedGeneration, in one copy of the status (every status write
        of every task comes through here: controller.tasks.finish)."""
        return self._finisher(task, status, now)

    def _write_settled(self, name: str) -> None:
        self._control.write_settled(name)

    def _unplaced(self, name: str) -> str | None:
        return self._backlog.unschedulable_reason(name)

    def _written(self, before: Task, after: Task) -> None:
        self._backlog.track(after.name, after)
        old, new = before.status.phase, after.status.phase
        if old == new:
            return
        deleting = after.metadata.deletion_timestamp is not None
        if new in ("Failed", "Lost") or (new == "Killed" and not deleting):
            self._ctx.events.event(
                after, reason=f"Task{new}", message=after.status.message, warning=True
            )
        elif new == "Running":
            self._started(after)

    def _started(self, task: Task) -> None:
        """A task of an environment counts in one folded Event on its Environment (a burst of
        starts costs a few writes, not one per task: its pid and host are in its status); a
        task of its own gets its own Event."""
        env = owner_environment(task)
        if env is not None:
            self._ctx.events.event(env, reason="TasksStarted", message=TASKS_STARTED)
            return
        self._ctx.events.event(
            task, reason="Started", message=f"pid {task.status.pid} on {task.status.hostname}"
        )


TASKS_STARTED = (
    "tasks of this environment started (count: how many; pid and host: each Task's status)"
)


@functools.lru_cache(maxsize=256)
def _environment_ref(name: str, uid: str) -> Environment:
    """Enough of an Environment to name it in an Event (kind, name, uid): not read from a
    cache, which the task controller does not keep."""
    spec = EnvironmentSpec.model_construct(workflow="")
    return Environment.model_construct(metadata=ObjectMeta(name=name, uid=uid), spec=spec)


def owner_environment(task: Task) -> Environment | None:
    """The Environment owning `task`, as an Event's involved object; None for a lone task."""
    for owner in task.metadata.owner_references:
        if owner.kind == Environment.KIND:
            return _environment_ref(owner.name, owner.uid)
    return None


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


async def _to_the_end(work: Coroutine[Any, Any, None]) -> None:
    """Await `work` until it is done even if we are cancelled meanwhile; then re-raise the
    cancellation (or `work`'s error)."""
    task = asyncio.ensure_future(work)
    cancelled = False
    while not task.done():
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            cancelled = True
    if cancelled:
        raise asyncio.CancelledError
    task.result()
