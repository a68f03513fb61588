"""The executor's process tasks: one process from LAUNCH to the task's end. I/O (processes, OCC).

Control `process` and the OCC modes (not `basic`: executor.basic). LAUNCH spawns the process;
an OCC task gets a free loopback control port and a fresh token, and is TASK_RUNNING once
GetState answers STANDBY within the startup timeout (a `process` task at once). Transitions go
to the task's OCC server, each task's batch items in order; EXIT of a `process` task is its
kill. The kill ladder walks an OCC task to DONE, then SIGTERM to the process group, the grace,
SIGKILL. The TaskRunner (executor.runtime) hands tasks over by control mode and owns the table
and the status callback.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from crds.kinds.common import uses_occ
from executor import memlimit
from executor.errors import OccError, SpawnError
from executor.launch import LaunchSpec, StatusUpdate, Timeouts
from executor.occ.auth import TOKEN_ENV, new_token
from executor.occ.grpc_adapter import DeviceEventInfo, OccClient
from executor.occ.states import OccState, parse_state, step_toward_done
from executor.occ.transitioner import Transitioner, transitioner_for
from executor.occlink import (
    CONTROL_PORT_ENV,
    control_transport,
    free_loopback_port,
    loopback_port_busy,
    poll_for_standby,
    send_step,
    with_control_port,
)
from executor.supervisor import ExitStatus, Process, spawn
from executor.tasks import Action, TaskRecord, TaskTable, startup_verdict
from mesosapi.o2messages import (
    ControlItem,
    DeviceEventMessage,
    TransitionResult,
)

log = logging.getLogger(__name__)

FORWARDED_EVENTS = {"END_OF_STREAM": "END_OF_STREAM", "TASK_INTERNAL_ERROR": "INTERNAL_ERROR"}
"""occ_pb device events sent on to the controller, under the controller's names."""

Emit = Callable[..., StatusUpdate]


@dataclass
class _Handle:
    spec: LaunchSpec
    record: TaskRecord
    process: Process
    occ_token: str = field(default="", repr=False)
    """The secret this launch's OCC calls carry (executor.occ.auth); never logged."""
    client: OccClient | None = None
    transitioner: Transitioner | None = None
    lifecycle: asyncio.Task[StatusUpdate] | None = None
    events: asyncio.Task[None] | None = None
    killer: asyncio.Task[None] | None = None
    walk: asyncio.Task[None] | None = None
    startup_failure: str = ""
    limiter: asyncio.Task[None] | None = None
    """Enforces the memory limit (executor.memlimit) while the process lives."""
    limit_failure: str = ""
    inflight: dict[str, asyncio.Task[TransitionResult]] = field(default_factory=dict)


class ProcessTasks:
    """The process tasks of one executor (the TaskRunner hands them over by control mode)."""

    def __init__(
        self,
        table: TaskTable,
        *,
        emit: Emit,
        on_event: Callable[[DeviceEventMessage], None] | None,
        timeouts: Timeouts,
    ) -> None:
        self.table = table
        self.timeouts = timeouts
        self._emit = emit
        self._on_event = on_event
        self._handles: dict[str, _Handle] = {}

    def __contains__(self, task_id: object) -> bool:
        return task_id in self._handles

    # ---- launch and lifecycle -------------------------------------------------------------

    def launch(self, spec: LaunchSpec) -> None:
        """Start the process; TASK_STARTING now, TASK_RUNNING or TASK_FAILED later."""
        env = {**spec.env, "O2_TASK_ID": spec.task_id}
        port = spec.occ_port
        token = ""
        if uses_occ(spec.control):
            port = port or free_loopback_port()
            token = new_token()
            env[CONTROL_PORT_ENV] = str(port)
            env[TOKEN_ENV] = token
            spec = dataclasses.replace(spec, occ_port=port, command=with_control_port(spec, port))
        record = self.table.add(spec.task_id, control=spec.control)
        if uses_occ(spec.control) and spec.occ_port and loopback_port_busy(spec.occ_port):
            # Something else would answer our OCC calls (and the task could not serve them).
            message = f"OCC port {spec.occ_port} is already in use on this host"
            self.table.mark_exited(spec.task_id, exit_code=None, signal=None, message=message)
            self._emit(spec.task_id, "TASK_FAILED", message=message, occ_state="ERROR")
            return
        try:
            process = spawn(spec.task_id, spec.command, sandbox=spec.sandbox, extra_env=env)
        except SpawnError as exc:
            self.table.mark_exited(spec.task_id, exit_code=None, signal=None, message=str(exc))
            self._emit(spec.task_id, "TASK_FAILED", message=str(exc), occ_state="ERROR")
            return
        record.pid = process.pid
        handle = _Handle(spec=spec, record=record, process=process, occ_token=token)
        self._handles[spec.task_id] = handle
        self._emit(spec.task_id, "TASK_STARTING", pid=process.pid)
        loop = asyncio.get_running_loop()
        if spec.memory_limit_mb:
            handle.limiter = loop.create_task(self._limit_memory(handle, spec.memory_limit_mb))
        handle.lifecycle = loop.create_task(self._lifecycle(handle))

    async def _limit_memory(self, handle: _Handle, limit_mb: float) -> None:
        handle.limit_failure = await memlimit.enforce(handle.process.pid, limit_mb=limit_mb)
        log.error("Task over its memory limit", extra={"task": handle.spec.task_id})

    async def _lifecycle(self, handle: _Handle) -> StatusUpdate:
        task_id = handle.spec.task_id
        if handle.spec.control == "process":
            self.table.mark_running(task_id, pid=handle.process.pid, state=OccState.RUNNING)
            self._emit(task_id, "TASK_RUNNING", pid=handle.process.pid, occ_state="RUNNING")
        elif await self._await_ready(handle):
            self._emit(task_id, "TASK_RUNNING", pid=handle.process.pid, occ_state="STANDBY")
        status = await handle.process.wait()
        return await self._finish(handle, status)

    async def _await_ready(self, handle: _Handle) -> bool:
        """Wait for GetState == STANDBY, the process's exit, or the startup timeout."""
        assert handle.spec.occ_port is not None
        transport = control_transport(handle.spec)
        client = handle.client = OccClient(
            handle.spec.occ_port, token=handle.occ_token, transport=transport
        )
        transitioner = handle.transitioner = transitioner_for(
            handle.spec.control, partial(send_step, client, deadline=self.timeouts.kill_step)
        )
        loop = asyncio.get_running_loop()
        asking = loop.create_task(
            poll_for_standby(client, transitioner, deadline=self.timeouts.startup)
        )
        exiting = loop.create_task(handle.process.wait())
        await asyncio.wait({asking, exiting}, return_when=asyncio.FIRST_COMPLETED)
        exiting.cancel()
        if not asking.done():
            asking.cancel()
            if not handle.record.kill_requested:
                handle.startup_failure = "exited during startup"
            return False
        try:
            verdict = startup_verdict(asking.result())
        except OccError as exc:
            handle.startup_failure = f"OCC not ready within {self.timeouts.startup}s ({exc})"
        else:
            if verdict.ready:
                self.table.mark_running(
                    handle.spec.task_id, pid=handle.process.pid, state="STANDBY"
                )
                handle.events = loop.create_task(self._forward_events(handle, client))
                return True
            handle.startup_failure = verdict.message
        log.error("Task failed to start", extra={"task": handle.spec.task_id})
        await handle.process.terminate(grace=self.timeouts.kill_grace)
        return False

    async def _forward_events(self, handle: _Handle, client: OccClient) -> None:
        task_id = handle.spec.task_id
        try:
            async for event in client.events():
                self._on_device_event(task_id, event)
        except OccError as exc:
            log.warning("Event stream broke", extra={"task": task_id, "error": str(exc)})

    def _on_device_event(self, task_id: str, event: DeviceEventInfo) -> None:
        name = FORWARDED_EVENTS.get(event.type)
        if name is None:
            return
        if name == "INTERNAL_ERROR":  # the task went to ERROR on its own
            self.table.set_state(task_id, OccState.ERROR)
        record = self.table.get(task_id)
        state = record.state if record is not None else ""
        if self._on_event is not None:
            self._on_event(DeviceEventMessage(task_id=task_id, event=name, state=state))

    async def _finish(self, handle: _Handle, status: ExitStatus) -> StatusUpdate:
        task_id = handle.spec.task_id
        if handle.events is not None:
            handle.events.cancel()
            await asyncio.gather(handle.events, return_exceptions=True)
        # OCC calls still out get UNAVAILABLE from the dead process; let them end before closing
        # the channel. (A process task's in-flight EXIT waits for this very lifecycle: skip it.)
        calls = handle.inflight.values() if uses_occ(handle.spec.control) else ()
        busy = [*calls, *([handle.walk] if handle.walk else [])]
        if busy:
            await asyncio.wait(busy)
        if handle.client is not None:
            await handle.client.close()
        if handle.limiter is not None:
            handle.limiter.cancel()
            await asyncio.gather(handle.limiter, return_exceptions=True)
        message = status.describe()
        if handle.startup_failure:
            message = f"{handle.startup_failure}; {message}"
        if handle.limit_failure:
            message = f"{handle.limit_failure}; {message}"
        final = self.table.mark_exited(
            task_id, exit_code=status.exit_code, signal=status.signal, message=message
        )
        return self._emit(
            task_id,
            final.mesos_state,
            message=message,
            pid=handle.process.pid,
            exit_code=status.exit_code,
            signal=status.signal,
            occ_state=final.occ_state,
            reason=memlimit.REASON if handle.limit_failure else "",
        )

    async def wait(self, task_id: str) -> StatusUpdate:
        """The terminal status of a launched task, once its process has ended."""
        handle = self._handles[task_id]
        assert handle.lifecycle is not None
        return await asyncio.shield(handle.lifecycle)

    def forget(self, task_id: str) -> None:
        """Drop an exited task's process (the TaskRunner removes it from the table)."""
        handle = self._handles.get(task_id)
        if handle is not None and handle.process.status is None:
            raise ValueError(f"task {task_id} is still running")
        self._handles.pop(task_id, None)

    # ---- transitions --------------------------------------------------------------------

    def inflight(self, task_id: str) -> dict[str, asyncio.Task[TransitionResult]] | None:
        """The task's transitions under way by transition id (None: no such process task)."""
        handle = self._handles.get(task_id)
        return handle.inflight if handle is not None else None

    def begin(
        self,
        item: ControlItem,
        *,
        action: Action,
        deadline: float,
        after: asyncio.Task[TransitionResult] | None,
    ) -> asyncio.Task[TransitionResult]:
        """Run one batch item (EXECUTE: the OCC transition; KILL: EXIT of a process task) once
        `after`, the task's previous item of the batch, is done."""
        handle = self._handles[item.task_id]
        self.table.begin(item.task_id, item.transition_id)
        run = (
            self._execute(handle, item, deadline=deadline, after=after)
            if action is Action.EXECUTE
            else self._exit_process(handle, item, after=after)
        )
        job = handle.inflight[item.transition_id] = asyncio.get_running_loop().create_task(run)
        return job

    async def _execute(
        self,
        handle: _Handle,
        item: ControlItem,
        *,
        deadline: float,
        after: asyncio.Task[TransitionResult] | None,
    ) -> TransitionResult:
        if after is not None:
            await asyncio.wait({after})
        assert handle.transitioner is not None
        transitioner = transitioner_for(
            handle.spec.control, partial(send_step, handle.client, deadline=deadline)
        )
        src = (item.src_state or handle.record.state).upper()
        try:
            outcome = await transitioner.commit(event=item.event, src=src, arguments=item.arguments)
        except OccError as exc:
            result = _result(item, ok=False, state=handle.record.state, message=str(exc))
            result = result.model_copy(update={"retryable": True})
        except Exception as exc:  # a batch must answer every item, whatever one task does
            log.exception("Transition crashed", extra={"task": item.task_id})
            result = _result(item, ok=False, state=handle.record.state, message=repr(exc))
            result = result.model_copy(update={"retryable": True})
        else:
            result = _result(item, ok=outcome.ok, state=outcome.state, message=outcome.message)
        return self._record(handle, result)

    async def _exit_process(
        self, handle: _Handle, item: ControlItem, *, after: asyncio.Task[TransitionResult] | None
    ) -> TransitionResult:
        if after is not None:
            await asyncio.wait({after})
        await self.kill(item.task_id)
        record = handle.record
        result = _result(item, ok=True, state=record.state, message=record.message)
        return self._record(handle, result)

    def _record(self, handle: _Handle, result: TransitionResult) -> TransitionResult:
        handle.inflight.pop(result.transition_id, None)
        self.table.finish(result)
        log.info(
            "Transition done",
            extra={"task": result.task_id, "ok": result.ok, "state": result.state},
        )
        return result

    # ---- kill ---------------------------------------------------------------------------

    async def kill(self, task_id: str, *, grace: float | None = None) -> None:
        """The kill ladder: OCC steps to DONE, SIGTERM to the group, grace, SIGKILL.

        `grace` (a Mesos KillPolicy) replaces `timeouts.kill_grace` for this kill; the first
        kill of a task decides it, later ones join the ladder already running.
        """
        handle = self._handles.get(task_id)
        if handle is None or handle.process.status is not None:
            return
        handle.record.kill_requested = True
        if handle.killer is None:
            ladder = self._kill_ladder(
                handle, grace=self.timeouts.kill_grace if grace is None else grace
            )
            handle.killer = asyncio.get_running_loop().create_task(ladder)
        await asyncio.shield(handle.killer)

    async def _kill_ladder(self, handle: _Handle, *, grace: float) -> None:
        if handle.transitioner is not None and handle.record.phase == "running":
            walk = self._walk_to_done(handle, handle.transitioner)
            handle.walk = asyncio.get_running_loop().create_task(walk)
            await asyncio.wait({handle.walk})
            if handle.record.state == OccState.DONE:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.timeouts.kill_step):
                        await handle.process.wait()
        if handle.process.status is None:
            await handle.process.terminate(grace=grace)
        assert handle.lifecycle is not None
        await asyncio.wait({handle.lifecycle})

    async def _walk_to_done(self, handle: _Handle, transitioner: Transitioner) -> None:
        for _ in range(len(OccState)):
            state = parse_state(handle.record.state)
            event = step_toward_done(state) if state else None
            if event is None or state is None:
                return
            try:
                outcome = await transitioner.commit(event=event.value, src=state, arguments={})
            except OccError as exc:
                log.warning(
                    "Kill step failed", extra={"task": handle.spec.task_id, "err": str(exc)}
                )
                return
            if outcome.state:
                self.table.set_state(handle.spec.task_id, outcome.state)
            if not outcome.ok:
                return

    async def close(self) -> None:
        """Kill every task (ladder) and wait for them all."""
        await asyncio.gather(*(self.kill(task_id) for task_id in list(self._handles)))

    def kill_all_now(self) -> None:
        """SIGKILL every live task's process group at once (no ladder): they end TASK_KILLED."""
        for handle in self._handles.values():
            if handle.process.status is None:
                handle.record.kill_requested = True
                handle.process.signal_group(signal.SIGKILL)

    async def ended(self) -> None:
        """Wait until every launched task's process has ended and been reported."""
        lifecycles = [h.lifecycle for h in self._handles.values() if h.lifecycle is not None]
        if lifecycles:
            await asyncio.wait(lifecycles)


def _result(item: ControlItem, *, ok: bool, state: str, message: str) -> TransitionResult:
    return TransitionResult(
        task_id=item.task_id,
        transition_id=item.transition_id,
        ok=ok,
        state=state,
        message=message,
    )
