"""Task status from Mesos updates and executor reports, and OCC control paths. Pure.

The conditions of a status are worked out in controller.tasks.finish.

Every function takes the current `TaskStatus` and what was observed, and returns the new one;
no store, no clock (callers pass `now`), no network. The framework driver applies them.

The executor puts process facts in `TaskStatus.data` of its updates (mesosapi.o2messages
TaskStatusData: OCC state, pid, exit code, signal). Updates without data (reconciliation
answers from the master) keep what the status already says.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from controller.tasks.facts import OCC_STATES, ProcessFacts, parse_facts
from crds.copies import replaced
from crds.kinds.task import TERMINAL_PHASES, Task, TaskPhase, TaskStatus, placed
from mesosapi.models import TaskStatus as MesosStatus
from mesosapi.o2messages import ControlItem, TaskReport, TransitionResult

PHASES: dict[str, TaskPhase] = {
    "TASK_STAGING": "Staging",
    "TASK_STARTING": "Staging",
    "TASK_RUNNING": "Running",
    "TASK_KILLING": "Running",
    "TASK_FINISHED": "Finished",
    "TASK_FAILED": "Failed",
    "TASK_ERROR": "Failed",
    "TASK_KILLED": "Killed",
    "TASK_LOST": "Lost",
    "TASK_DROPPED": "Lost",
    "TASK_UNREACHABLE": "Lost",
    "TASK_GONE": "Lost",
    "TASK_GONE_BY_OPERATOR": "Lost",
    "TASK_UNKNOWN": "Lost",
}
"""Mesos task states -> Task `status.phase`."""

_PATHS: dict[tuple[str, str], tuple[str, ...]] = {}


def _build_paths() -> None:
    moves = {
        ("STANDBY", "CONFIGURE"): "CONFIGURED",
        ("CONFIGURED", "START"): "RUNNING",
        ("RUNNING", "STOP"): "CONFIGURED",
        ("CONFIGURED", "RESET"): "STANDBY",
        ("STANDBY", "EXIT"): "DONE",
        ("CONFIGURED", "EXIT"): "DONE",
        ("ERROR", "EXIT"): "DONE",
    }
    for start in OCC_STATES:
        frontier: list[tuple[str, tuple[str, ...]]] = [(start, ())]
        seen = {start}
        while frontier:
            state, path = frontier.pop(0)
            _PATHS[(start, state)] = path
            for (src, event), dst in moves.items():
                if src == state and dst not in seen:
                    seen.add(dst)
                    frontier.append((dst, (*path, event)))


_build_paths()


def occ_path(current: str, desired: str) -> tuple[str, ...] | None:
    """Shortest event sequence from `current` to `desired` (DESIGN §3); None when impossible.

    ERROR is sticky: the only way out taken automatically is EXIT toward DONE.
    """
    return _PATHS.get((current, desired))


def launched(
    status: TaskStatus,
    *,
    mesos_task_id: str,
    agent_id: str,
    hostname: str,
    ports: tuple[int, ...],
    executor_id: str,
    now: datetime,
    channels: Mapping[str, str] | None = None,
) -> TaskStatus:
    """The status written just before the ACCEPT that launches the task; `channels`: the
    addresses allocated for its inbound channels (crds.fairmq.bound_addresses)."""
    return replaced(
        status,
        {
            "phase": "Staging",
            "state": None,
            "mesos_task_id": mesos_task_id,
            "agent_id": agent_id,
            "hostname": hostname,
            "ports": ports,
            "channels": dict(channels or {}),
            "executor_id": executor_id,
            "pid": None,
            "exit_code": None,
            "signal": None,
            "reason": "",
            "message": f"launching on {hostname}",
            "started_at": now,
            "last_transition_id": None,
            "configured_properties": None,
        },
    )


def on_update(status: TaskStatus, update: MesosStatus) -> TaskStatus:
    """Fold one Mesos status update into the Task status (phase, process facts, reason)."""
    phase = PHASES.get(update.state, "Lost")
    if status.phase in TERMINAL_PHASES and phase not in TERMINAL_PHASES:
        return status  # a late non-terminal update never revives a finished task
    facts = parse_facts(update.data)
    changes: dict[str, Any] = {"phase": phase}
    if facts.pid is not None:
        changes["pid"] = facts.pid
    if facts.occ_state is not None and (phase in TERMINAL_PHASES or not _controlled(status)):
        changes["state"] = facts.occ_state
    if phase in TERMINAL_PHASES:
        changes["exit_code"] = facts.exit_code
        changes["signal"] = facts.signal
        if facts.occ_state is None and status.state not in ("DONE", None):
            changes["state"] = "DONE" if phase == "Finished" else "ERROR"
        changes["reason"] = update.reason or update.state
        changes["message"] = update.message or _terminal_message(phase, facts)
    elif phase == "Running":
        changes["reason"] = ""
        changes["message"] = ""
    if update.agent_id and not status.agent_id:
        changes["agent_id"] = update.agent_id
    return replaced(status, changes)


def running_on(status: TaskStatus, update: MesosStatus) -> bool:
    """Whether `update_if_mine(status, update=update) == status` for a TASK_RUNNING `update`
    about a Running status (the caller's check), without the copy `on_update` makes: each
    answer of a periodic explicit reconciliation about a task that runs on (at 50,000 tasks,
    50,000 of them every `reconcile_period`)."""
    if status.mesos_task_id != update.task_id:
        return True
    facts = parse_facts(update.data)
    return (
        (facts.pid is None or facts.pid == status.pid)
        and (facts.occ_state is None or _controlled(status) or facts.occ_state == status.state)
        and status.reason == ""
        and status.message == ""
        and not (update.agent_id and not status.agent_id)
    )


def _controlled(status: TaskStatus) -> bool:
    """The task is Running with an OCC state: from here on the executor's transition results
    and task tables say where it is. A live update's OCC state is the one the executor had at
    launch, and one seen now is a repeat (the agent re-sends an update until it is
    acknowledged, and the acknowledgement follows the status write, late under load): taking
    it would put a task that has since been configured back to STANDBY, and the next control
    pass would send transitions from there, which the executor refuses."""
    return status.phase == "Running" and status.state is not None


def _terminal_message(phase: str, facts: ProcessFacts) -> str:
    if facts.signal is not None:
        return f"process ended by signal {facts.signal}"
    if facts.exit_code is not None:
        return f"process exited with code {facts.exit_code}"
    return f"task {phase.lower()}"


def on_report(status: TaskStatus, row: TaskReport) -> TaskStatus:
    """Fold one row of an executor's task table (only for a live task: updates own the end)."""
    if status.phase in TERMINAL_PHASES or row.phase == "exited":
        return status
    changes: dict[str, Any] = {}
    if row.pid is not None:
        changes["pid"] = row.pid
    if row.state in OCC_STATES:
        changes["state"] = row.state
        if row.state in ("STANDBY", "DONE", "ERROR"):
            changes["configured_properties"] = None
    if row.last_transition_id:
        changes["last_transition_id"] = row.last_transition_id
    if row.phase == "running" and status.phase == "Staging":
        changes["phase"] = "Running"
    return replaced(status, changes) if changes else status


def report_quiet(status: TaskStatus, row: TaskReport) -> bool:
    """Whether `report_if_mine(status, row=row) == status`, without the copy `on_report` makes
    (each row of each periodic task table: at 50,000 tasks, 50,000 every `reconcile_period`)."""
    if status.mesos_task_id != row.task_id or status.phase in TERMINAL_PHASES:
        return True
    if row.phase == "exited":
        return True
    if row.state in OCC_STATES and (
        row.state != status.state
        or (row.state in ("STANDBY", "DONE", "ERROR") and status.configured_properties is not None)
    ):
        return False
    return (
        (row.pid is None or row.pid == status.pid)
        and (not row.last_transition_id or row.last_transition_id == status.last_transition_id)
        and not (row.phase == "running" and status.phase == "Staging")
    )


def on_result(
    status: TaskStatus, result: TransitionResult, *, configured_digest: str | None = None
) -> TaskStatus:
    """Fold one transition result (the executor's answer to a ControlRequest item); a good
    CONFIGURE records the digest of the properties it carried in `configuredProperties`."""
    if status.phase in TERMINAL_PHASES:
        return status
    changes: dict[str, Any] = {}
    if result.state in OCC_STATES:
        changes["state"] = result.state
        if result.state in ("STANDBY", "DONE", "ERROR"):
            changes["configured_properties"] = None
        if result.state != "RUNNING" and status.terminated:
            changes["terminated"] = False
    if result.ok and configured_digest is not None:
        changes["configured_properties"] = configured_digest
    if result.ok:
        changes["last_transition_id"] = result.transition_id
        changes["message"] = ""
    elif not result.retryable:
        changes["message"] = result.message or f"transition {result.transition_id} refused"
    return replaced(status, changes) if changes else status


def result_quiet(
    status: TaskStatus, result: TransitionResult, *, configured_digest: str | None = None
) -> bool:
    """Whether `result_if_mine(status, result=result, ...) == status`, without the copy
    `on_result` makes: a repeated answer (a request resent after its deadline, answered again
    from the executor's record of the transition) or one whose content a task table brought
    first."""
    if status.mesos_task_id != result.task_id or status.phase in TERMINAL_PHASES:
        return True
    configured = status.configured_properties
    if result.state in OCC_STATES:
        if result.state != status.state or (result.state != "RUNNING" and status.terminated):
            return False
        if result.state in ("STANDBY", "DONE", "ERROR"):
            configured = None
    if result.ok:
        if configured_digest is not None:
            configured = configured_digest
        return (
            configured == status.configured_properties
            and status.last_transition_id == result.transition_id
            and status.message == ""
        )
    if not result.retryable:
        message = result.message or f"transition {result.transition_id} refused"
        return configured == status.configured_properties and status.message == message
    return configured == status.configured_properties


def properties_digest(properties: Mapping[str, str]) -> str:
    """What `status.configuredProperties` holds: sha256 of the sorted compact JSON of the
    properties sent at CONFIGURE, first 16 hex digits (the environment controller compares)."""
    text = json.dumps(dict(properties), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def transition_id(task: Task, state: str, event: str) -> str:
    """Stable per (desired change, source state, event): a resend reuses it (idempotent)."""
    base = task.spec.transition_id or f"{task.metadata.uid[:8]}-g{task.metadata.generation}"
    return f"{base}:{state}>{event}"


def control_items(task: Task) -> list[ControlItem]:
    """The transitions that bring a live task from status.state to spec.state (maybe none)."""
    status = task.status
    if at_rest(task) or status.state is None or not status.mesos_task_id:
        return []
    path = occ_path(status.state, task.spec.state)
    if not path:
        return []
    items = []
    state: str = status.state
    for event in path:
        items.append(
            ControlItem(
                task_id=status.mesos_task_id,
                transition_id=transition_id(task, state, event),
                event=event,
                arguments=_arguments(task, event),
                src_state=state,
            )
        )
        state = _after(state, event)
    return items


def at_rest(task: Task) -> bool:
    """Whether `control_items(task)` is empty by the task's phase and states alone (cheap: the
    control loop asks it of every stored copy of every task): not Running, or in its desired
    OCC state, or a plain process that only a kill ends."""
    status = task.status
    if status.phase != "Running" or status.state == task.spec.state:
        return True
    return task.spec.control == "process" and task.spec.state != "DONE"


def generation_answered(task: Task) -> bool:
    """Whether a status write that would change nothing but observedGeneration (and the
    conditions) is not needed: the generation is observed already, or a transition toward the
    new spec is due or in flight (`control_items` is not empty), and the write of its answer
    stamps the generation. A periodic reconciliation or task table during a transition over N
    tasks would otherwise cost up to N writes more, each followed by the answer's own write
    (at 50,000 tasks, START: 8,400 puts)."""
    status = task.status
    if status.observed_generation == task.metadata.generation:
        return True
    if at_rest(task) or status.state is None or not status.mesos_task_id:
        return False
    return bool(occ_path(status.state, task.spec.state))


def _after(state: str, event: str) -> str:
    return {
        "CONFIGURE": "CONFIGURED",
        "START": "RUNNING",
        "STOP": "CONFIGURED",
        "RESET": "STANDBY",
        "EXIT": "DONE",
    }.get(event, state)


def _arguments(task: Task, event: str) -> dict[str, str]:
    if event == "CONFIGURE":
        hostname = task.status.hostname or ""
        return {k: placed(v, hostname) for k, v in task.spec.properties.items()}
    if event == "START":
        args = dict(task.spec.start_arguments)
        if task.spec.run_number is not None:  # both names, as AliECS's START pushes it
            args["run_number"] = args["runNumber"] = str(task.spec.run_number)
        return args
    return {}


def update_if_mine(status: TaskStatus, *, update: MesosStatus) -> TaskStatus:
    """Fold `update` only into the launch it is about: the status it is applied to may have
    moved on since it was checked (another writer sent it back to pending, or relaunched it),
    and an old launch's TASK_RUNNING would otherwise mark a task with no launch Running."""
    return on_update(status, update) if status.mesos_task_id == update.task_id else status


def pending_if_mine(status: TaskStatus, *, update: MesosStatus) -> TaskStatus:
    """Back to Pending only if the never-launched launch of `update` is still the task's."""
    return back_to_pending(status) if status.mesos_task_id == update.task_id else status


def back_to_pending(status: TaskStatus) -> TaskStatus:
    return replaced(
        status,
        {
            "phase": "Pending",
            "mesos_task_id": None,
            "agent_id": None,
            "hostname": None,
            "ports": (),
        },
    )


def result_if_mine(
    status: TaskStatus, *, result: TransitionResult, configured_digest: str | None = None
) -> TaskStatus:
    """Apply an executor's answer only to the launch it is about."""
    if status.mesos_task_id != result.task_id:
        return status
    return on_result(status, result, configured_digest=configured_digest)


def report_if_mine(status: TaskStatus, *, row: TaskReport) -> TaskStatus:
    return on_report(status, row) if status.mesos_task_id == row.task_id else status


def on_basic_terminated(
    status: TaskStatus, *, exit_code: int | None, signal: int | None, message: str
) -> TaskStatus:
    """A basic task's process ended during the run: recorded, the task lives on (RUNNING)."""
    if status.phase in TERMINAL_PHASES or status.state != "RUNNING":
        return status
    update = {"terminated": True, "exit_code": exit_code, "signal": signal, "message": message}
    return replaced(status, update)


def with_message(status: TaskStatus, *, message: str) -> TaskStatus:
    return replaced(status, {"message": message})
