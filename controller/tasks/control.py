"""The control ledger: transitions batched into one ControlRequest MESSAGE per executor (ids,
timeout, resend), executor answers and task tables into status, and KILLs. It owns what is in
flight (requests and their deadlines, CONFIGURE digests, recent kills, table sequences).
Decisions in controller.tasks.status (pure)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from functools import partial

from controller.tasks import status as st
from controller.tasks.base import task_name_of
from controller.tasks.control_ids import PropertiesDigests, RequestIds
from controller.tasks.facts import OCC_STATES
from controller.tasks.shared import Shared
from crds.errors import MesosCallError, MesosUnavailableError, ValidationError
from crds.kinds.task import Task
from mesosapi.models import AgentId, ExecutorId, TaskId
from mesosapi.o2messages import (
    BASIC_TASK_TERMINATED,
    ControlItem,
    ControlRequest,
    ControlResults,
    DeviceEventMessage,
    ReportRequest,
    TaskTableReport,
    TransitionResult,
    decode_to_controller,
    encode,
)
from mesosapi.scheduler import Message

log = logging.getLogger(__name__)

KILL_RESEND = 5.0
"""Seconds before a KILL of the same Mesos task is sent again."""

_NEVER = float("inf")
_Outgoing = tuple[str, str, ControlRequest]
"""(agent id, executor id, the request) of one MESSAGE to send."""


class ControlLedger:
    """The control side of the framework."""

    def __init__(self, shared: Shared) -> None:
        self._shared = shared
        self._inflight: dict[str, tuple[str, float, str]] = {}
        """(request id, deadline, launch) of each task's unanswered control request. It holds
        back new requests only to that launch: a request to a launch that died (its executor
        killed) is never answered, and must not stall a new launch of the same Task name."""
        self._digests: dict[str, str] = {}
        """Properties digest of each CONFIGURE in flight, by transition id."""
        self._killed: dict[str, float] = {}
        self._reports: dict[str, int] = {}
        """The sequence of the last task table of each agent's executor."""
        self._idle: dict[str, int] = {}
        """Tasks a pass found with nothing to send, by the resourceVersion of the stored copy
        it looked at (no status change queued): what is due depends on the Task alone, so a
        pass skips them while that copy is still the one it sees. A 10,000-task pass then
        costs a dictionary lookup per task that did not change, not a plan of each."""
        self._unlooked: set[str] = set()
        """Tasks whose stored copy changed since a pass last looked at them."""
        self._deferred: set[str] = set()
        """Tasks a pass was to look at while a status change of theirs was queued or in flight
        (`_looks_now`): looked at once written (`write_settled`)."""
        self._resending: set[str] = set()
        """Overdue requests (`due_resends`): looked at on the next pass, written or not."""
        self._earliest = _NEVER
        """No deadline in `_inflight` is earlier (an answered request's may be later)."""
        self._request_ids = RequestIds()
        self._digest_of = PropertiesDigests()

    def forget_requests(self) -> None:
        """A new connection: nothing sent before will be answered (resend what is due)."""
        self._inflight.clear()
        self._idle.clear()

    def forget_looks(self) -> None:
        """The next pass looks at every task again (the control loop's rare safety net)."""
        self._idle.clear()
        self._unlooked.clear()

    def forget(self, name: str) -> None:
        """The Task is gone for good."""
        self._idle.pop(name, None)
        self._unlooked.discard(name)
        self._deferred.discard(name)

    def write_settled(self, name: str) -> None:
        """The status writer has no change of `name` queued or in flight any more: a look a
        pass put off for it is due now, unless the written copy has nothing to send by its
        phase and states alone (the usual answer or update: as `touched`, idle at once)."""
        if name not in self._deferred:
            return
        self._deferred.discard(name)
        task = self._shared.roster.stored(name)
        if task is None or task.metadata.deletion_timestamp is not None:
            return
        if st.at_rest(task):
            self._idle[name] = task.metadata.resource_version or 0
            self._unlooked.discard(name)
            return
        self._shared.wake(name)

    def touched(self, name: str, task: Task | None = None) -> None:
        """The stored copy of `name` changed to `task` (any change, the status writer's
        included). A copy with nothing to send by its phase and states alone (the usual status
        write: an answer that reached the desired state) is idle at once, as a look would find
        it: each answer of a transition over N tasks would otherwise cost a look on the next
        pass, N in all."""
        if task is not None and task.metadata.deletion_timestamp is None and st.at_rest(task):
            self._idle[name] = task.metadata.resource_version or 0
            self._unlooked.discard(name)
            return
        self._unlooked.add(name)

    def _looks_now(self, names: Iterable[str]) -> list[str]:
        """Of `names`, those a pass looks at now: one with a status change queued or in flight
        (an answer or an update, that nearly always leaves nothing to send) is looked at once
        written (`write_settled`; a full pass finds it too), unless its request is overdue. A
        look now would plan a copy with the changes applied (StatusWriter.view) for that look
        alone: at 50,000 tasks ~120,000 copies over DEPLOY, CONFIGURE and START. A stored copy
        found idle is not looked at again (at 50,000 tasks ~385,000 looks in DEPLOY)."""
        writing, stored, idle = self._shared.writer.writing, self._shared.roster.stored, self._idle
        resending, self._resending = self._resending, set()
        now: list[str] = []
        for name in names:
            if writing(name):
                if name not in resending:
                    self._deferred.add(name)
                    self._unlooked.add(name)
                    continue
            elif (version := idle.get(name)) is not None:
                task = stored(name)  # `_due` of the stored copy, without the view and the plan
                if task is not None and (task.metadata.resource_version or 0) == version:
                    self._unlooked.discard(name)
                    continue
            now.append(name)
        return now

    def take_unlooked(self) -> set[str]:
        """The tasks whose stored copy changed since a pass last looked at them (from now on
        they count as looked at: the caller plans them)."""
        names, self._unlooked = self._unlooked, set()
        return names

    def executor_gone(self, agent: str) -> None:
        """The agent's executor exited: a new one starts its table sequence again."""
        self._reports.pop(agent, None)

    async def request_reports(self, agents: Iterable[str] | None = None) -> None:
        """Ask every executor that runs our tasks (on `agents`, when known) for its task
        table."""
        client = self._shared.link.require()
        for agent in self._shared.roster.agents() if agents is None else agents:
            with contextlib.suppress(MesosCallError, MesosUnavailableError):
                await client.message(
                    AgentId(agent),
                    ExecutorId(self._shared.executor.executor_id),
                    encode(ReportRequest()),
                )

    # ---- executor messages -------------------------------------------------------------------

    def on_message(self, event: Message) -> None:
        try:
            msg = decode_to_controller(event.data)
        except ValidationError as exc:
            log.warning("Dropped bad executor message", extra={"error": str(exc)})
            return
        if isinstance(msg, ControlResults):
            for result in msg.results:
                self._on_result(result)
        elif isinstance(msg, TaskTableReport):
            if changed := self._on_table(event.agent_id, msg):
                self._shared.wake(*changed)
        elif isinstance(msg, DeviceEventMessage):
            self._on_device_event(msg)
            self._shared.wake(task_name_of(msg.task_id))

    def _on_result(self, result: TransitionResult) -> None:
        name = task_name_of(result.task_id)
        self._inflight.pop(name, None)
        digest = self._digests.pop(result.transition_id, None)
        task = self._shared.roster.view(name)
        if task is None or not (
            st.result_quiet(task.status, result, configured_digest=digest)
            and self._shared.roster.answered(task)
        ):
            self._shared.writer.patch(
                name, partial(st.result_if_mine, result=result, configured_digest=digest)
            )
        if not self._arrived(name, result):
            self._shared.wake(name)
        if not result.ok and not result.retryable:
            task = self._shared.roster.view(name)  # the copy with this result applied
            if task is not None:
                message = (
                    f"{result.transition_id}: {result.message or 'refused'} (now {result.state})"
                )
                self._shared.events.event(
                    task, reason="TransitionFailed", message=message, warning=True
                )

    def _arrived(self, name: str, result: TransitionResult) -> bool:
        """Whether a good answer put the task in its desired state: a look at it would find
        nothing to send (its next desired state wakes it), so none is asked for. Each answer of
        a transition over N tasks would otherwise cost a look at a copy with the answer
        applied, N in all."""
        task = self._shared.roster.stored(name)
        return (
            result.ok
            and task is not None
            and task.status.mesos_task_id == result.task_id
            and task.spec.state == result.state
        )

    def _on_table(self, agent: str, report: TaskTableReport) -> list[str]:
        """An older table of the same executor process is dropped; a restarted executor starts
        its sequence again (from 1), and FAILURE of the old one forgets its sequence. A live row
        that no Task claims is a stray and is killed, as a stray's status update is: after a
        partition, Mesos reported the agent's tasks lost and they were replaced, but their
        processes ran on (Mesos >= 1.5 keeps them) and only this table shows them. A table sent
        as the executor (re)subscribed puts its tasks' unanswered requests out of flight: the
        agent dropped what came while the executor was away, so they are resent at once rather
        than after their deadline (a resend reuses its transition ids: idempotent).
        The tasks to look at again: all of the table's but those whose row says what their
        status says already, or will once the changes queued or in flight for it are written
        (each periodic table of a quiet executor: no status change queued and no look for
        them, at 50,000 tasks 50,000 of each every `reconcile_period`)."""
        if 1 < report.sequence < self._reports.get(agent, 0):
            return [task_name_of(row.task_id) for row in report.tasks]
        self._reports[agent] = report.sequence
        changed: list[str] = []
        for row in report.tasks:
            name = task_name_of(row.task_id)
            if report.subscribed and self._inflight.pop(name, None) is not None:
                changed.append(name)  # dropped while the executor was away: resend now
            task = self._shared.roster.view(name)
            if row.phase != "exited" and (task is None or task.status.mesos_task_id != row.task_id):
                log.warning(
                    "Killing stray Mesos task from the executor's table",
                    extra={"mesos_task": row.task_id, "agent": agent, "pid": row.pid},
                )
                self.kill_stray(row.task_id, agent)
                changed.append(name)
                continue
            if (
                task is not None
                and st.report_quiet(task.status, row)
                and self._shared.roster.answered(task)
            ):
                continue
            self._shared.writer.patch(name, partial(st.report_if_mine, row=row))
            changed.append(name)
        return changed

    def _on_device_event(self, msg: DeviceEventMessage) -> None:
        name = task_name_of(msg.task_id)
        task = self._shared.roster.view(name)
        if task is None:
            return
        if msg.event == BASIC_TASK_TERMINATED:
            self._on_basic_terminated(task, msg)
            return
        state = msg.state if msg.state in OCC_STATES else None
        message = msg.message or msg.event
        self._shared.writer.patch(
            name,
            lambda s: s.model_copy(update={"state": state or s.state, "message": message}),
        )
        self._shared.events.event(task, reason=msg.event, message=message, warning=True)

    def _on_basic_terminated(self, task: Task, msg: DeviceEventMessage) -> None:
        message = msg.message or f"basic task terminated with exit code {msg.exit_code}"
        self._shared.writer.patch(
            task.name,
            partial(
                st.on_basic_terminated, exit_code=msg.exit_code, signal=msg.signal, message=message
            ),
        )
        failed = msg.exit_code != 0
        self._shared.events.event(
            task, reason="BasicTaskTerminated", message=message, warning=failed
        )

    # ---- kills -----------------------------------------------------------------------------

    async def kill(self, task: Task) -> None:
        """KILL the task's Mesos task (resent at most every few seconds)."""
        mesos_id = task.status.mesos_task_id
        if not mesos_id:
            return
        loop = asyncio.get_running_loop()
        if loop.time() - self._killed.get(mesos_id, -1e9) < KILL_RESEND:
            return
        self._killed[mesos_id] = loop.time()
        await self._kill(mesos_id, task.status.agent_id)

    def kill_stray(self, mesos_id: str, agent: str | None) -> None:
        """KILL a Mesos task no Task claims, in the background."""
        self._shared.link.spawn(self._kill(mesos_id, agent))

    async def _kill(self, mesos_id: str, agent: str | None) -> None:
        try:
            await self._shared.link.require().kill(
                TaskId(mesos_id), agent_id=AgentId(agent) if agent else None
            )
        except (MesosCallError, MesosUnavailableError) as exc:
            log.warning("KILL failed", extra={"mesos_task": mesos_id, "error": str(exc)})

    # ---- control transitions ---------------------------------------------------------------

    async def control_pass(self, names: Iterable[str] | None = None) -> int:
        """One MESSAGE per executor with every due transition of its tasks (of `names`, or all);
        the number of transitions sent."""
        return await self._send_requests(self._plan_control(names))

    def start_control_pass(self, names: Iterable[str] | None = None) -> None:
        """`control_pass` whose MESSAGEs go out in the background: the caller (the control
        loop) plans the next pass at once instead of waiting for the master's answers. The
        tasks are marked in flight before this returns, so no pass sends them twice."""
        requests = self._plan_control(names)
        if requests:
            self._shared.link.spawn(self._send_quietly(requests))

    def due_resends(self, now: float) -> set[str]:
        """Tasks whose control request went unanswered past its deadline. Asked before every
        pass: it looks through what is in flight only once the earliest deadline set since its
        last look has passed (10,000 in flight during a transition, ~50 passes a second): the
        same answer as a look every time, `_earliest` being at most every deadline in it."""
        if now < self._earliest:
            return set()
        self._earliest = min((d for _, d, _ in self._inflight.values()), default=_NEVER)
        due = {name for name, (_, deadline, _) in self._inflight.items() if deadline <= now}
        self._resending |= due
        return due

    def _plan_control(self, names: Iterable[str] | None) -> list[_Outgoing]:
        """The ControlRequests due now, one per executor (of `names`, the tasks being written
        put off: `_looks_now`; or all); their tasks are marked in flight."""
        now = asyncio.get_running_loop().time()
        if names is not None:
            names = self._looks_now(names)
        batches: dict[tuple[str, str], list[tuple[str, list[ControlItem]]]] = {}
        default_executor = self._shared.executor.executor_id
        for task in self._shared.roster.each_live(names):
            items = self._due(task, now)
            if not items:
                continue
            status = task.status
            for item in items:
                if item.event == "CONFIGURE":
                    # of the spec, as the environment controller computes it (the arguments
                    # hold placement-time values such as task_hostname filled in)
                    self._digests[item.transition_id] = self._digest_of(task.spec.properties)
            key = (status.agent_id or "", status.executor_id or default_executor)
            entries = batches.get(key)
            if entries is None:
                entries = batches[key] = []
            entries.append((task.metadata.name, items))
        return [self._request_for(key, entries, now=now) for key, entries in batches.items()]

    def _due(self, task: Task, now: float) -> list[ControlItem]:
        """The transitions to send to `task` now (none while a request to its launch is in
        flight); a stored copy with none to send is remembered as idle."""
        meta = task.metadata
        name = meta.name
        self._unlooked.discard(name)
        if meta.deletion_timestamp is not None:
            return []
        version = meta.resource_version or 0
        stored = self._shared.roster.is_stored(task)
        if stored and self._idle.get(name) == version:
            return []
        inflight = self._inflight.get(name)
        if inflight is not None and inflight[1] > now and inflight[2] == task.status.mesos_task_id:
            return []
        items = st.control_items(task)
        if items:
            self._idle.pop(name, None)
        elif stored:
            self._idle[name] = version
        return items

    def _request_for(
        self, key: tuple[str, str], entries: list[tuple[str, list[ControlItem]]], *, now: float
    ) -> _Outgoing:
        request = ControlRequest(
            request_id=self._request_ids.next(),
            items=tuple(i for _, items in entries for i in items),
            timeout_seconds=self._shared.config.control_timeout,
        )
        steps = max(len(items) for _, items in entries)
        deadline = (
            now + self._shared.config.control_timeout * steps + self._shared.config.control_margin
        )
        for name, items in entries:
            self._inflight[name] = (request.request_id, deadline, items[0].task_id)
        self._earliest = min(self._earliest, deadline)
        return key[0], key[1], request

    async def _send_requests(self, requests: list[_Outgoing]) -> int:
        """The MESSAGEs, concurrently (one slow agent does not hold the others); the number
        of transitions sent. The first failure is raised once all were tried."""
        client = self._shared.link.require()
        sends = [
            client.message(AgentId(agent), ExecutorId(executor), encode(request))
            for agent, executor, request in requests
        ]
        results = await asyncio.gather(*sends, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return sum(len(request.items) for _, _, request in requests)

    async def _send_quietly(self, requests: list[_Outgoing]) -> None:
        """Unanswered requests are resent after their deadline, as after a lost MESSAGE."""
        try:
            await self._send_requests(requests)
        except (MesosUnavailableError, MesosCallError) as exc:
            log.warning("Control pass failed", extra={"error": str(exc)})
