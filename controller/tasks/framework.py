"""The framework driver: one Mesos subscription per leadership term, turning events into Task
status and Task changes into Mesos calls. I/O lives here (Mesos client, store through the
status writer); every decision is delegated to the pure `placement` and `status` modules.

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
import uuid
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from controller.mesos import Disconnected, FakeSchedulerClient, SchedulerClient
from controller.runtime.reconciler import Context
from controller.runtime.status import with_conditions
from controller.tasks import placement
from controller.tasks import status as st
from controller.tasks.launch import LaunchConfig, executor_info, task_info
from controller.tasks.writer import StatusFn, StatusWriter
from crds.errors import MesosCallError, MesosUnavailableError, ValidationError
from crds.kinds.node import Node
from crds.kinds.task import TERMINAL_PHASES, Task, TaskStatus
from mesosapi.models import AgentId, ExecutorId, FrameworkId, Offer, TaskId
from mesosapi.models import TaskStatus as MesosStatus
from mesosapi.o2messages import (
    ControlItem,
    ControlRequest,
    ControlResults,
    DeviceEventMessage,
    ReportRequest,
    TaskReport,
    TaskTableReport,
    TransitionResult,
    decode_to_controller,
    encode,
)
from mesosapi.scheduler import Error, Failure, Message, Offers, SchedulerEvent, Subscribed, Update

log = logging.getLogger(__name__)

FRAMEWORK_ID_KEY = "runtime/mesos/framework-id"


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
    reconcile_period: float = 60.0
    """Explicit reconciliation + task-table requests on this timer."""
    tick: float = 0.5
    """The control loop looks for due resends at least this often."""
    revive_interval: float = 0.2
    """At most one REVIVE per this many seconds while new tasks keep appearing."""


def task_name_of(mesos_task_id: str) -> str:
    """Mesos task ids are `<task name>.<launch id>`."""
    return mesos_task_id.rsplit(".", 1)[0]


class TaskFramework:
    """Runs for one leadership term: `await run()`, cancelled when the term ends."""

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
        self._dirty = asyncio.Event()
        self._suppressed: bool | None = None
        self._revived_for: set[str] = set()
        self._last_revive = -1e9
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
        launches and due transitions. Every `tick` all tasks are looked at anyway."""
        if names:
            self._dirty_names.update(names)
        else:
            self._full = True
        self._dirty.set()

    async def run(self) -> None:
        """Until the leadership term ends (ctx.store is swapped by the manager) or a loop dies."""
        term_store = self.ctx.store
        framework_id = await self._load_framework_id()
        client = self.client = self._client_factory(framework_id)
        client.start()
        loops = [
            asyncio.create_task(self._consume(client), name="task-events"),
            asyncio.create_task(self.writer.run(), name="task-status-writer"),
            asyncio.create_task(self._control_loop(), name="task-control"),
            asyncio.create_task(self._reconcile_loop(), name="task-reconcile"),
            asyncio.create_task(self._watch_term(term_store), name="task-term"),
        ]
        try:
            done, _ = await asyncio.wait(loops, return_when=asyncio.FIRST_COMPLETED)
            for loop in done:
                loop.result()  # a dead loop ends the term (and raises its error)
        finally:
            for loop in loops:
                loop.cancel()
            await asyncio.gather(*loops, return_exceptions=True)
            if self.ctx.store is term_store:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self.writer.flush(), 2.0)
            await client.close()
            self.client = None
            log.info("Task framework stopped")

    async def _consume(self, client: FrameworkClient) -> None:
        async for event in client.events():
            await self._on_event(event)

    async def _watch_term(self, term_store: object) -> None:
        """Returns when the manager swaps ctx.store: leadership ended (or shutdown). The runtime
        has no term-end hook for reconcilers, so this looks every tick."""
        while self.ctx.store is term_store:  # noqa: ASYNC110 (no event to wait on)
            await asyncio.sleep(self.config.tick)

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

    async def _request_reports(self) -> None:
        client = self._client()
        for agent in {t.status.agent_id for t in self._live_tasks() if t.status.agent_id}:
            assert agent is not None
            with contextlib.suppress(MesosCallError, MesosUnavailableError):
                await client.message(
                    AgentId(agent), ExecutorId(self.executor.executor_id), encode(ReportRequest())
                )

    def _on_update(self, update: MesosStatus) -> None:
        name = task_name_of(update.task_id)
        task = self.writer.view(name)
        ack = self._acker(update)
        if task is None or task.status.mesos_task_id != update.task_id:
            self._on_stray(update, owned=task is not None)
            ack()
            return
        if self._never_launched(task, update):
            self.writer.patch(name, _back_to_pending, then=ack)
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

    def _on_message(self, event: Message) -> None:
        try:
            msg = decode_to_controller(event.data)
        except ValidationError as exc:
            log.warning("Dropped bad executor message", extra={"error": str(exc)})
            return
        if isinstance(msg, ControlResults):
            for result in msg.results:
                name = task_name_of(result.task_id)
                self._inflight.pop(name, None)
                self.writer.patch(name, partial(_result_if_mine, result=result))
                self.wake(name)
        elif isinstance(msg, TaskTableReport):
            self._on_table(event.agent_id, msg)
            self.wake(*(task_name_of(row.task_id) for row in msg.tasks))
        elif isinstance(msg, DeviceEventMessage):
            self._on_device_event(msg)
            self.wake(task_name_of(msg.task_id))

    def _on_table(self, agent: str, report: TaskTableReport) -> None:
        if report.sequence and report.sequence < self._reports.get(agent, 0):
            return
        self._reports[agent] = report.sequence
        for row in report.tasks:
            name = task_name_of(row.task_id)
            self.writer.patch(name, partial(_report_if_mine, row=row))

    def _on_device_event(self, msg: DeviceEventMessage) -> None:
        name = task_name_of(msg.task_id)
        task = self.writer.view(name)
        if task is None:
            return
        state = msg.state if msg.state in st.OCC_STATES else None
        message = msg.message or msg.event
        self.writer.patch(
            name,
            lambda s: s.model_copy(update={"state": state or s.state, "message": message}),
        )
        self.ctx.events.event(task, reason=msg.event, message=message, warning=True)

    def _on_failure(self, event: Failure) -> None:
        log.warning(
            "Mesos failure",
            extra={"agent": event.agent_id, "executor": event.executor_id, "status": event.status},
        )

    # ---- offers and launches --------------------------------------------------------------

    def _live_tasks(self, names: Iterable[str] | None = None) -> list[Task]:
        out = []
        for name in self.tasks.names() if names is None else names:
            task = self.writer.view(name)
            if task is not None and task.status.phase not in TERMINAL_PHASES:
                out.append(task)
        return out

    def pending(self, names: Iterable[str] | None = None) -> list[Task]:
        return [
            t
            for t in self._live_tasks(names)
            if t.status.phase == "Pending"
            and not t.status.mesos_task_id
            and t.metadata.deletion_timestamp is None
        ]

    def _cordoned(self) -> set[str]:
        out: set[str] = set()
        for node in self.nodes.list():
            if node.spec.unschedulable:
                out.add(node.status.hostname or node.name)
                if node.status.agent_id:
                    out.add(node.status.agent_id)
        return out

    def _unique_taken(self, offers: list[Offer]) -> dict[tuple[str, str], set[str]]:
        attrs: dict[str, dict[str, str]] = {}
        for node in self.nodes.list():
            if node.status.agent_id:
                attrs[node.status.agent_id] = {
                    **node.status.attributes,
                    "hostname": node.status.hostname,
                }
        for offer in offers:
            attrs[offer.agent_id] = {
                **{a.name: a.as_text() for a in offer.attributes},
                "hostname": offer.hostname,
            }
        taken: dict[tuple[str, str], set[str]] = {}
        for task in self._live_tasks():
            agent = attrs.get(task.status.agent_id or "")
            for c in task.spec.constraints:
                if c.operator == "UNIQUE" and agent is not None and c.attribute in agent:
                    taken.setdefault((task.spec.task_class, c.attribute), set()).add(
                        agent[c.attribute]
                    )
        return taken

    async def _on_offers(self, offers: list[Offer]) -> None:
        client = self._client()
        pending = self.pending()
        if not pending:
            await client.decline(
                [o.id for o in offers], refuse_seconds=self.config.idle_refuse_seconds
            )
            await self._update_offer_interest()
            return
        plan = placement.place(
            pending,
            offers,
            executor_id=self.executor.executor_id,
            cordoned=self._cordoned(),
            unique_taken=self._unique_taken(offers),
        )
        self._note_unplaced(plan.unplaced)
        by_offer = plan.by_offer()
        offers_by_id = {o.id: o for o in offers}
        for offer_id, placed in by_offer.items():
            await self._launch(offers_by_id[offer_id], placed)
        unused = [o.id for o in offers if o.id not in by_offer]
        if unused:
            await client.decline(unused, refuse_seconds=self.config.refuse_seconds)

    def _note_unplaced(self, unplaced: dict[str, str]) -> None:
        for name, why in unplaced.items():
            task = self.writer.view(name)
            if task is None:
                continue
            if self.unplaced.get(name) != why:
                log.info("Task cannot be placed", extra={"task": name, "reason": why})
                self.ctx.events.event(task, reason="FailedScheduling", message=why, warning=True)
            self.unplaced[name] = why
            self.writer.patch(name, partial(_with_message, message=why))

    async def _launch(self, offer: Offer, placed: list[placement.Placed]) -> None:
        """Write each task's launch status first, then ONE ACCEPT with every task that got
        written (a crash in between leaves Staging tasks that reconciliation sends back)."""
        changes: dict[str, StatusFn] = {}
        infos = []
        for p in placed:
            task = self.writer.view(p.task)
            if task is None:
                continue
            mesos_id = f"{task.name}.{uuid.uuid4().hex[:10]}"
            info = task_info(
                task,
                mesos_id=mesos_id,
                offer=offer,
                allocation=p.allocation,
                executor=self.executor,
            )
            infos.append((p, info))
            ports = tuple(p.allocation.ports[: task.spec.wants.ports])
            changes[p.task] = partial(
                st.launched,
                mesos_task_id=mesos_id,
                agent_id=offer.agent_id,
                hostname=offer.hostname,
                ports=ports,
                executor_id=self.executor.executor_id,
                now=_now(),
            )
            self.unplaced.pop(p.task, None)
        written = await self.writer.write_now(changes)
        launch = [info for p, info in infos if p.task in written]
        client = self._client()
        if not launch:
            await client.decline([offer.id], refuse_seconds=self.config.refuse_seconds)
            return
        await client.launch([offer.id], launch, refuse_seconds=self.config.refuse_seconds)
        log.info(
            "Launched tasks",
            extra={"agent": offer.agent_id, "hostname": offer.hostname, "tasks": len(launch)},
        )

    async def _update_offer_interest(self, names: Iterable[str] | None = None) -> None:
        """REVIVE when new tasks are pending (it also clears our DECLINE filters), SUPPRESS
        when none is (no offer hoarding). Revives are spaced by `revive_interval`."""
        client = self.client
        if client is None:
            return
        pending = {t.name for t in self.pending(names)}
        fresh = pending - self._revived_for
        now = asyncio.get_running_loop().time()
        if fresh and (
            self._suppressed is not False or now - self._last_revive >= self.config.revive_interval
        ):
            await client.revive()
            log.info("Revived offers", extra={"pending": len(pending), "new": len(fresh)})
            self._suppressed = False
            self._last_revive = now
            self._revived_for = pending if names is None else self._revived_for | pending
        elif names is None and not pending and self._suppressed is not True:
            await client.suppress()
            log.info("Suppressed offers: nothing pending")
            self._suppressed = True
            self._revived_for = set()

    # ---- kills -----------------------------------------------------------------------------

    async def kill(self, task: Task) -> None:
        """KILL the task's Mesos task (resent at most every few seconds)."""
        mesos_id = task.status.mesos_task_id
        if not mesos_id:
            return
        loop = asyncio.get_running_loop()
        if loop.time() - self._killed.get(mesos_id, -1e9) < 5.0:
            return
        self._killed[mesos_id] = loop.time()
        await self._kill(mesos_id, task.status.agent_id)

    async def _kill(self, mesos_id: str, agent: str | None) -> None:
        try:
            await self._client().kill(TaskId(mesos_id), agent_id=AgentId(agent) if agent else None)
        except (MesosCallError, MesosUnavailableError) as exc:
            log.warning("KILL failed", extra={"mesos_task": mesos_id, "error": str(exc)})

    # ---- control transitions ---------------------------------------------------------------

    async def _control_loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._dirty.wait(), self.config.tick)
            self._dirty.clear()
            if self.client is None or not self.client.connected:
                continue
            names: set[str] | None = self._dirty_names
            self._dirty_names = set()
            now = asyncio.get_running_loop().time()
            if self._full or now - self._last_full >= self.config.tick:
                names, self._full, self._last_full = None, False, now
            try:
                await self._update_offer_interest(names)
                await self.control_pass(names)
            except (MesosUnavailableError, MesosCallError) as exc:
                log.warning("Control pass failed", extra={"error": str(exc)})

    async def control_pass(self, names: Iterable[str] | None = None) -> int:
        """One MESSAGE per executor with every due transition of its tasks (of `names`, or all);
        the number of transitions sent."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        batches: dict[tuple[str, str], list[tuple[str, list[ControlItem]]]] = {}
        for task in self._live_tasks(names):
            if task.metadata.deletion_timestamp is not None:
                continue
            inflight = self._inflight.get(task.name)
            if inflight is not None and inflight[1] > now:
                continue
            items = st.control_items(task)
            if not items:
                continue
            key = (task.status.agent_id or "", task.status.executor_id or self.executor.executor_id)
            batches.setdefault(key, []).append((task.name, items))
        sent = 0
        for (agent, executor), entries in batches.items():
            request = ControlRequest(
                request_id=uuid.uuid4().hex,
                items=tuple(i for _, items in entries for i in items),
                timeout_seconds=self.config.control_timeout,
            )
            deadline = now + self.config.control_timeout * max(1, len(entries[0][1])) + 2.0
            for name, _ in entries:
                self._inflight[name] = (request.request_id, deadline)
            await self._client().message(AgentId(agent), ExecutorId(executor), encode(request))
            sent += len(request.items)
        return sent

    async def _reconcile_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.reconcile_period)
            if self.client is None or not self.client.connected:
                continue
            known = [
                (
                    TaskId(t.status.mesos_task_id),
                    AgentId(t.status.agent_id) if t.status.agent_id else None,
                )
                for t in self._live_tasks()
                if t.status.mesos_task_id
            ]
            try:
                if known:
                    await self._client().reconcile(known)
                await self._request_reports()
            except (MesosUnavailableError, MesosCallError) as exc:
                log.warning("Periodic reconcile failed", extra={"error": str(exc)})

    # ---- status finishing and events ---------------------------------------------------------

    def _finish(self, task: Task, status: TaskStatus, now: datetime) -> TaskStatus:
        probe = task.model_copy(update={"status": status})
        unplaced = self.unplaced.get(task.name) if status.phase == "Pending" else None
        conds = st.conditions(probe, unplaced=unplaced)
        new = status.model_copy(update={"observed_generation": task.metadata.generation})
        return with_conditions(new, conds, generation=task.metadata.generation, now=now)

    def _written(self, before: Task, after: Task) -> None:
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


def _now() -> datetime:
    from crds.meta import utcnow

    return utcnow()


def _back_to_pending(status: TaskStatus) -> TaskStatus:
    return status.model_copy(
        update={
            "phase": "Pending",
            "mesos_task_id": None,
            "agent_id": None,
            "hostname": None,
            "ports": (),
        }
    )


def _result_if_mine(status: TaskStatus, *, result: TransitionResult) -> TaskStatus:
    """Apply an executor's answer only to the launch it is about."""
    return st.on_result(status, result) if status.mesos_task_id == result.task_id else status


def _report_if_mine(status: TaskStatus, *, row: TaskReport) -> TaskStatus:
    return st.on_report(status, row) if status.mesos_task_id == row.task_id else status


def _with_message(status: TaskStatus, *, message: str) -> TaskStatus:
    return status.model_copy(update={"message": message})
