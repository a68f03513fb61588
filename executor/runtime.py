"""The executor's task runtime: launch, OCC readiness, batched transitions, the kill ladder.

This is what executor.main calls from Mesos events, and it never talks to Mesos itself:
    LAUNCH  -> `launch_task_info(task_id, task_info.data, sandbox_root=$MESOS_SANDBOX)`
    KILL    -> `kill(task_id)`
    MESSAGE -> `reply = await handle_message(data)`; send `reply` back as a MESSAGE if not None
    timer   -> `encode(report())` as a MESSAGE (the full task table, also after (re)subscribe)
It reports through callbacks: `on_status(StatusUpdate)` -> a Mesos UPDATE, and
`on_event(DeviceEventMessage)` -> a MESSAGE (END_OF_STREAM, INTERNAL_ERROR). All calls must come
from the event-loop thread (processes are spawned there: see executor.supervisor on pdeath).
The TaskRunner keeps the task table and plans each batch; it hands each task over by control
mode: basic tasks to executor.basic, the others (a process from LAUNCH on) to
executor.process_tasks.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

from crds.errors import ValidationError
from executor.basic import BasicTasks
from executor.launch import LaunchSpec, StatusUpdate, Timeouts
from executor.process_tasks import ProcessTasks
from executor.tasks import Action, MesosTaskState, TaskTable
from mesosapi.o2messages import (
    ControlItem,
    ControlRequest,
    ControlResults,
    DeviceEventMessage,
    ReportRequest,
    TaskTableReport,
    TransitionResult,
    decode_launch,
    decode_to_executor,
    encode,
)

__all__ = ["LaunchSpec", "StatusUpdate", "TaskRunner", "Timeouts"]

log = logging.getLogger(__name__)


class TaskRunner:
    """Hosts every o2 task of one executor."""

    def __init__(
        self,
        *,
        on_status: Callable[[StatusUpdate], None],
        on_event: Callable[[DeviceEventMessage], None] | None = None,
        timeouts: Timeouts | None = None,
    ) -> None:
        self.table = TaskTable()
        self.timeouts = timeouts or Timeouts()
        self._on_status = on_status
        self._processes = ProcessTasks(
            self.table, emit=self._emit, on_event=on_event, timeouts=self.timeouts
        )
        self._basic = BasicTasks(
            self.table, emit=self._emit, on_event=on_event, timeouts=self.timeouts
        )
        self._basic_inflight: dict[str, asyncio.Task[TransitionResult]] = {}

    # ---- launch and lifecycle -------------------------------------------------------------

    async def launch(self, spec: LaunchSpec) -> None:
        """Start the process; TASK_STARTING now, TASK_RUNNING or TASK_FAILED later."""
        if spec.task_id in self._processes or spec.task_id in self._basic:
            log.warning("Ignored repeated launch", extra={"task": spec.task_id})
            return
        if spec.control == "basic":
            self._basic.launch(spec)
            return
        self._processes.launch(spec)

    def _emit(
        self,
        task_id: str,
        state: MesosTaskState,
        *,
        message: str = "",
        pid: int | None = None,
        exit_code: int | None = None,
        signal: int | None = None,
        occ_state: str = "",
        reason: str = "",
    ) -> StatusUpdate:
        update = StatusUpdate(
            task_id=task_id,
            state=state,
            message=message,
            pid=pid,
            exit_code=exit_code,
            signal=signal,
            occ_state=occ_state,
            reason=reason,
        )
        log.info("Task status", extra={"task": task_id, "state": state, "detail": update.message})
        self._on_status(update)
        return update

    async def wait(self, task_id: str) -> StatusUpdate:
        """The terminal status of a launched task, once its process has ended."""
        if task_id in self._basic:
            return await self._basic.wait(task_id)
        return await self._processes.wait(task_id)

    def forget(self, task_id: str) -> None:
        """Drop an exited task (after Mesos acknowledged its terminal update)."""
        if self._basic.forget(task_id):
            return
        self._processes.forget(task_id)
        self.table.remove(task_id)

    def report(self) -> TaskTableReport:
        return self.table.report()

    # ---- Mesos-facing seams (bytes in, bytes out; executor.main does the transport) ------

    async def launch_task_info(
        self,
        task_id: str,
        data: bytes,
        *,
        sandbox_root: Path,
        memory_limit_mb: float | None = None,
    ) -> None:
        """LAUNCH: TaskInfo.data is a LaunchPayload; a bad one fails the task, naming the field.
        `memory_limit_mb` is TaskInfo.limits `mem`."""
        try:
            payload = decode_launch(data)
        except ValidationError as exc:
            self.table.add(task_id, control="process")
            self.table.mark_exited(task_id, exit_code=None, signal=None, message=str(exc))
            self._emit(task_id, "TASK_FAILED", message=str(exc), occ_state="ERROR")
            return
        spec = LaunchSpec.from_payload(
            task_id, payload, sandbox=sandbox_root / task_id, memory_limit_mb=memory_limit_mb
        )
        await self.launch(spec)

    async def handle_message(self, data: bytes) -> bytes | None:
        """MESSAGE from the controller -> the MESSAGE to send back (None for garbage)."""
        try:
            message = decode_to_executor(data)
        except ValidationError as exc:
            log.error("Dropped bad framework message", extra={"error": str(exc)})
            return None
        if isinstance(message, ReportRequest):
            return encode(self.report())
        return encode(await self.control(message))

    # ---- control ------------------------------------------------------------------------

    async def control(self, request: ControlRequest) -> ControlResults:
        """Run a batch: tasks in parallel, each task's items in order; one result per item."""
        loop = asyncio.get_running_loop()
        previous: dict[str, asyncio.Task[TransitionResult]] = {}
        pending: list[asyncio.Task[TransitionResult]] = []
        for item in request.items:
            planned = self.table.plan_item(item)
            if planned.action is Action.ANSWER:
                assert planned.result is not None
                job = loop.create_task(_ready(planned.result))
            elif planned.action is Action.JOIN:
                flying = self._processes.inflight(item.task_id)
                job = (flying if flying is not None else self._basic_inflight)[item.transition_id]
            elif planned.action is Action.BASIC:
                self.table.begin(item.task_id, item.transition_id)
                run_basic = self._run_basic(item, after=previous.get(item.task_id))
                job = self._basic_inflight[item.transition_id] = loop.create_task(run_basic)
            else:
                job = self._processes.begin(
                    item,
                    action=planned.action,
                    deadline=request.timeout_seconds,
                    after=previous.get(item.task_id),
                )
            previous[item.task_id] = job
            pending.append(job)
        results = await asyncio.gather(*pending)
        return ControlResults(request_id=request.request_id, results=tuple(results))

    async def _run_basic(
        self, item: ControlItem, *, after: asyncio.Task[TransitionResult] | None
    ) -> TransitionResult:
        if after is not None:
            await asyncio.wait({after})
        result = await self._basic.transition(item)
        self._basic_inflight.pop(item.transition_id, None)
        self.table.finish(result)
        return result

    # ---- kill ---------------------------------------------------------------------------

    async def kill(self, task_id: str, *, grace: float | None = None) -> None:
        """The kill ladder: OCC steps to DONE, SIGTERM to the group, grace, SIGKILL.

        `grace` (a Mesos KillPolicy) replaces `timeouts.kill_grace` for this kill; the first
        kill of a task decides it, later ones join the ladder already running.
        """
        if task_id in self._basic:
            await self._basic.kill(task_id, grace=grace)
            return
        await self._processes.kill(task_id, grace=grace)

    async def close(self) -> None:
        """Kill every task (ladder) and wait for them all."""
        await self._processes.close()
        await self._basic.abort(grace=self.timeouts.kill_grace)

    async def abort(self) -> None:
        """SIGKILL every live task's process group at once (no ladder) and wait for their ends.

        For a deadline that ran out (the shutdown grace period): they end as TASK_KILLED.
        """
        self._processes.kill_all_now()
        await self._basic.abort(grace=0.0)
        await self._processes.ended()


async def _ready(result: TransitionResult) -> TransitionResult:
    return result
