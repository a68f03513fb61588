"""The executor's task table: per-task records, idempotent control batches, final statuses. Pure.

No processes, no gRPC, no clock here (executor.runtime and the task kinds it hands over to,
executor.process_tasks and executor.basic, do the I/O). The table decides, for each item of a
control batch, whether to answer at once (unknown task, process task, cached result of a
repeated transition id, task not ready) or to run the transition, and turns process exits into
the Mesos status and OCC state the controller sees:

- occ: exit 0 after EXIT (or on its own) -> TASK_FINISHED / DONE; other exits -> TASK_FAILED /
  ERROR; an exit after a kill request -> TASK_KILLED.
- process (o2's long-running plain process, pilots): running means RUNNING; exit 0 ->
  TASK_FINISHED / DONE; other exits -> TASK_FAILED / ERROR; only EXIT is accepted as a control
  event (it kills the process).
- basic (AliECS's): every event is planned as BASIC and run by executor.basic (no process
  until START, killed at STOP; its exit is a BASIC_TASK_TERMINATED event, not the task's end).
- occ startup: the task is ready only when GetState answers STANDBY within the startup timeout.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

from crds.kinds.common import ControlMode
from executor.occ.states import OccState
from mesosapi.o2messages import (
    ControlItem,
    ControlRequest,
    TaskPhaseOnAgent,
    TaskReport,
    TaskTableReport,
    TransitionResult,
)

REMEMBERED_RESULTS = 64
MesosTaskState = Literal[
    "TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED", "TASK_FAILED", "TASK_KILLED"
]


class Action(StrEnum):
    ANSWER = "answer"
    """Reply at once with `result`."""
    EXECUTE = "execute"
    """Run the transition on the task (and `begin` it in the table)."""
    JOIN = "join"
    """The same transition id is running now: wait for its result."""
    KILL = "kill"
    """EXIT of a process task: run the kill ladder, then answer."""
    BASIC = "basic"
    """Any event of a basic task: executor.basic runs it (START spawns, STOP kills)."""


@dataclass(frozen=True)
class PlannedItem:
    item: ControlItem
    action: Action
    result: TransitionResult | None = None


@dataclass
class TaskRecord:
    task_id: str
    control: ControlMode
    phase: TaskPhaseOnAgent = "starting"
    state: str = ""
    pid: int | None = None
    last_transition_id: str = ""
    exit_code: int | None = None
    signal: int | None = None
    message: str = ""
    kill_requested: bool = False
    results: OrderedDict[str, TransitionResult] = field(default_factory=OrderedDict)
    in_flight: set[str] = field(default_factory=set)

    def report(self) -> TaskReport:
        return TaskReport(
            task_id=self.task_id,
            control=self.control,
            phase=self.phase,
            state=self.state,
            pid=self.pid,
            last_transition_id=self.last_transition_id,
            exit_code=self.exit_code,
            signal=self.signal,
            message=self.message,
        )


def _answer(
    item: ControlItem, *, ok: bool, state: str, message: str, retryable: bool = False
) -> PlannedItem:
    result = TransitionResult(
        task_id=item.task_id,
        transition_id=item.transition_id,
        ok=ok,
        state=state,
        message=message,
        retryable=retryable,
    )
    return PlannedItem(item=item, action=Action.ANSWER, result=result)


class TaskTable:
    """Every task this executor hosts, keyed by Mesos task id."""

    def __init__(self) -> None:
        self._tasks: dict[str, TaskRecord] = {}
        self._sequence = 0

    def add(self, task_id: str, *, control: ControlMode) -> TaskRecord:
        record = TaskRecord(task_id=task_id, control=control)
        self._tasks[task_id] = record
        return record

    def get(self, task_id: str) -> TaskRecord | None:
        return self._tasks.get(task_id)

    def remove(self, task_id: str) -> None:
        self._tasks.pop(task_id, None)

    def __len__(self) -> int:
        return len(self._tasks)

    def plan(self, request: ControlRequest) -> list[PlannedItem]:
        """What to do for each item, in request order; does not change the table."""
        return [self.plan_item(item) for item in request.items]

    def plan_item(self, item: ControlItem) -> PlannedItem:
        """What to do for one item given the table now (call `begin` before the next one)."""
        record = self._tasks.get(item.task_id)
        if record is None:
            return _answer(item, ok=False, state="", message="unknown task on this executor")
        cached = record.results.get(item.transition_id)
        if cached is not None:
            return PlannedItem(item=item, action=Action.ANSWER, result=cached)
        if item.transition_id in record.in_flight:
            return PlannedItem(item=item, action=Action.JOIN)
        if record.phase == "exited":
            return _answer(item, ok=False, state=record.state, message="task has exited")
        if record.control == "basic":
            return PlannedItem(item=item, action=Action.BASIC)
        if record.control == "process":
            if item.event.upper() == "EXIT":
                return PlannedItem(item=item, action=Action.KILL)
            return _answer(
                item,
                ok=False,
                state=record.state,
                message=f"process task: {item.event} is not a control event (only EXIT)",
            )
        if record.phase == "starting":
            return _answer(
                item, ok=False, state=record.state, message="task is still starting", retryable=True
            )
        return PlannedItem(item=item, action=Action.EXECUTE)

    def begin(self, task_id: str, transition_id: str) -> None:
        self._tasks[task_id].in_flight.add(transition_id)

    def finish(self, result: TransitionResult) -> None:
        """Record the outcome of a transition; definite answers are remembered for repeats."""
        record = self._tasks.get(result.task_id)
        if record is None:
            return
        record.in_flight.discard(result.transition_id)
        if result.state:
            record.state = result.state
        if result.retryable:
            return
        record.last_transition_id = result.transition_id
        record.results[result.transition_id] = result
        while len(record.results) > REMEMBERED_RESULTS:
            record.results.popitem(last=False)

    def mark_running(self, task_id: str, *, pid: int | None, state: str) -> None:
        record = self._tasks[task_id]
        record.phase = "running"
        record.pid = pid
        record.state = state

    def set_state(self, task_id: str, state: str) -> None:
        record = self._tasks.get(task_id)
        if record is not None and record.phase != "exited":
            record.state = state

    def mark_exited(
        self, task_id: str, *, exit_code: int | None, signal: int | None, message: str
    ) -> FinalStatus:
        record = self._tasks[task_id]
        final = final_status(record, exit_code=exit_code, signal=signal)
        record.phase = "exited"
        record.exit_code = exit_code
        record.signal = signal
        record.state = final.occ_state
        record.message = message or final.message
        return final

    def report(self) -> TaskTableReport:
        """The full table, numbered so the controller can drop reports that arrive late."""
        self._sequence += 1
        tasks = tuple(r.report() for r in self._tasks.values())
        return TaskTableReport(sequence=self._sequence, tasks=tasks)


@dataclass(frozen=True)
class FinalStatus:
    mesos_state: MesosTaskState
    occ_state: str
    message: str


def _describe_exit(exit_code: int | None, signal: int | None) -> str:
    if signal is not None:
        return f"killed by signal {signal}"
    return f"exited with code {exit_code}"


def final_status(record: TaskRecord, *, exit_code: int | None, signal: int | None) -> FinalStatus:
    """The terminal Mesos state and OCC state of a task whose process has ended."""
    how = _describe_exit(exit_code, signal)
    clean = exit_code == 0 and signal is None
    if record.kill_requested:
        state = OccState.DONE if clean or record.state == OccState.DONE else OccState.ERROR
        return FinalStatus("TASK_KILLED", state.value, f"killed on request; {how}")
    if clean:
        return FinalStatus("TASK_FINISHED", OccState.DONE.value, how)
    return FinalStatus("TASK_FAILED", OccState.ERROR.value, how)


@dataclass(frozen=True)
class StartupVerdict:
    ready: bool
    message: str = ""


def startup_verdict(answered_state: str) -> StartupVerdict:
    """An OCC task is ready only in STANDBY; any other first answer fails the launch."""
    if answered_state == OccState.STANDBY:
        return StartupVerdict(ready=True)
    return StartupVerdict(
        ready=False, message=f"task answered {answered_state or 'no state'} instead of STANDBY"
    )
