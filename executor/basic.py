"""AliECS basic tasks in the executor: a command run per START, killed at STOP. I/O (processes).

AliECS's BasicTask (executor/executable/basictask.go) is followed: at LAUNCH no process starts,
the task is RUNNING for Mesos and STANDBY for the controller; every transition is a no-op that
answers its destination state, except CONFIGURED -START-> RUNNING, which spawns the command, and
RUNNING -STOP-> CONFIGURED, which kills its process group if it still runs. When the process ends
on its own the task does not end: the executor sends BASIC_TASK_TERMINATED (exit code, signal)
and the task stays RUNNING, "safe to stop" (the environment stops the run once every such task
has ended). EXIT ends the Mesos task (TASK_FINISHED, DONE); a Mesos KILL ends it TASK_KILLED.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from executor import memlimit
from executor.errors import SpawnError
from executor.launch import LaunchSpec, StatusUpdate, Timeouts
from executor.supervisor import Process, spawn
from executor.tasks import MesosTaskState, TaskRecord, TaskTable
from mesosapi.o2messages import (
    BASIC_TASK_TERMINATED,
    ControlItem,
    DeviceEventMessage,
    TransitionResult,
)

log = logging.getLogger(__name__)

DESTINATION = {
    "CONFIGURE": "CONFIGURED",
    "RESET": "STANDBY",
    "START": "RUNNING",
    "STOP": "CONFIGURED",
    "EXIT": "DONE",
    "RECOVER": "STANDBY",
    "GO_ERROR": "ERROR",
}
"""Where each event leaves a basic task (AliECS answers every transition with its `Dst`)."""

Emit = Callable[..., StatusUpdate]


@dataclass
class _Basic:
    spec: LaunchSpec
    record: TaskRecord
    process: Process | None = None
    stopping: bool = False
    watcher: asyncio.Task[None] | None = None
    ended: asyncio.Future[StatusUpdate] | None = None


class BasicTasks:
    """The basic tasks of one executor (the TaskRunner hands them over by control mode)."""

    def __init__(
        self,
        table: TaskTable,
        *,
        emit: Emit,
        on_event: Callable[[DeviceEventMessage], None] | None,
        timeouts: Timeouts,
    ) -> None:
        self._table = table
        self._emit = emit
        self._on_event = on_event
        self._timeouts = timeouts
        self._tasks: dict[str, _Basic] = {}

    def __contains__(self, task_id: object) -> bool:
        return task_id in self._tasks

    def launch(self, spec: LaunchSpec) -> None:
        """Staged without a process: TASK_RUNNING in STANDBY at once."""
        record = self._table.add(spec.task_id, control="basic")
        task = _Basic(spec=spec, record=record)
        task.ended = asyncio.get_running_loop().create_future()
        self._tasks[spec.task_id] = task
        self._table.mark_running(spec.task_id, pid=None, state="STANDBY")
        self._emit(spec.task_id, "TASK_RUNNING", occ_state="STANDBY")

    async def transition(self, item: ControlItem) -> TransitionResult:
        """Run one control event; answers ok with the destination state (START: once spawned)."""
        task = self._tasks[item.task_id]
        event = item.event.upper()
        message = ""
        if event == "START":
            message = self._start(task, run_number=item.arguments.get("run_number"))
            if message:
                return _result(item, ok=False, state=task.record.state, message=message)
        elif event in ("STOP", "EXIT", "RESET", "GO_ERROR"):
            message = await self._stop(task)
        state = DESTINATION.get(event, task.record.state)
        task.record.state = state
        result = _result(item, ok=True, state=state, message=message)
        if event == "EXIT":
            self._end(task, "TASK_FINISHED", occ_state="DONE", message="exited on request")
        return result

    def _start(self, task: _Basic, *, run_number: str | None) -> str:
        if task.process is not None and task.process.status is None:
            return ""
        env = {**task.spec.env, "O2_TASK_ID": task.spec.task_id}
        if run_number is not None:
            env["O2_RUN_NUMBER"] = run_number
        try:
            process = spawn(
                task.spec.task_id, task.spec.command, sandbox=task.spec.sandbox, extra_env=env
            )
        except SpawnError as exc:
            return str(exc)
        task.process = process
        task.stopping = False
        task.record.pid = process.pid
        task.record.exit_code = None
        task.record.signal = None
        task.watcher = asyncio.get_running_loop().create_task(self._watch(task, process))
        return ""

    async def _watch(self, task: _Basic, process: Process) -> None:
        limit = task.spec.memory_limit_mb
        limiter = None
        if limit:
            limiter = asyncio.get_running_loop().create_task(
                memlimit.enforce(process.pid, limit_mb=limit)
            )
        status = await process.wait()
        over = await _limit_verdict(limiter)
        if task.stopping:
            return
        task.record.exit_code = status.exit_code
        task.record.signal = status.signal
        how = f"{over}; {status.describe()}" if over else status.describe()
        task.record.message = f"basic task terminated: {how}"
        log.info("Basic task terminated", extra={"task": task.spec.task_id, "how": status})
        if self._on_event is not None:
            self._on_event(
                DeviceEventMessage(
                    task_id=task.spec.task_id,
                    event=BASIC_TASK_TERMINATED,
                    state=task.record.state,
                    message=task.record.message,
                    exit_code=status.exit_code,
                    signal=status.signal,
                )
            )

    async def _stop(self, task: _Basic, *, grace: float | None = None) -> str:
        """Kill the process group if it still runs (AliECS: ensureBasicTaskKilled)."""
        process = task.process
        if process is None or process.status is not None:
            return ""
        task.stopping = True
        status = await process.terminate(
            grace=self._timeouts.kill_grace if grace is None else grace
        )
        if task.watcher is not None:
            await asyncio.wait({task.watcher})
        return f"stopped: {status.describe()}"

    def _end(self, task: _Basic, state: MesosTaskState, *, occ_state: str, message: str) -> None:
        if task.ended is None or task.ended.done():
            return
        task.record.phase = "exited"
        task.record.state = occ_state
        update = self._emit(task.spec.task_id, state, message=message, occ_state=occ_state)
        task.ended.set_result(update)

    async def kill(self, task_id: str, *, grace: float | None = None) -> None:
        """A Mesos KILL: stop the process if any, end the task TASK_KILLED."""
        task = self._tasks.get(task_id)
        if task is None or task.record.phase == "exited":
            return
        task.record.kill_requested = True
        await self._stop(task, grace=grace)
        self._end(task, "TASK_KILLED", occ_state="DONE", message="killed on request")

    async def abort(self, *, grace: float) -> None:
        """Kill every live basic task (runner close: with a grace; shutdown deadline: none)."""
        await asyncio.gather(*(self.kill(tid, grace=grace) for tid in list(self._tasks)))

    async def wait(self, task_id: str) -> StatusUpdate:
        """The terminal status of the task (after EXIT or KILL)."""
        ended = self._tasks[task_id].ended
        assert ended is not None
        return await asyncio.shield(ended)

    def forget(self, task_id: str) -> bool:
        """Drop an ended task; False when it is no basic task of ours."""
        task = self._tasks.get(task_id)
        if task is None:
            return False
        if task.record.phase != "exited":
            raise ValueError(f"task {task_id} is still running")
        self._tasks.pop(task_id)
        self._table.remove(task_id)
        return True


async def _limit_verdict(limiter: asyncio.Task[str] | None) -> str:
    """Why the memory limiter killed the process ('' when it did not): it is done by the
    time the exit is seen, as it kills before returning."""
    if limiter is None:
        return ""
    if limiter.done():
        return limiter.result()
    limiter.cancel()
    await asyncio.gather(limiter, return_exceptions=True)
    return ""


def _result(item: ControlItem, *, ok: bool, state: str, message: str) -> TransitionResult:
    return TransitionResult(
        task_id=item.task_id, transition_id=item.transition_id, ok=ok, state=state, message=message
    )
