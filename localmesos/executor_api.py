"""The agent's executor API (SUBSCRIBE, UPDATE, MESSAGE) with the agent's validation rules."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from localmesos.model import Executor, ExecutorState, Json, get_value, valid_uuid_b64
from localmesos.streams import EventStream

if TYPE_CHECKING:
    from localmesos.agent import Agent

log = logging.getLogger(__name__)


class ExecutorCallError(Exception):
    """An executor call the agent refuses, with the HTTP status Mesos answers."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _executor(agent: Agent, body: Json) -> Executor:
    fid, eid = get_value(body, "framework_id"), get_value(body, "executor_id")
    if not fid or not eid:
        raise ExecutorCallError(400, "Expecting 'framework_id' and 'executor_id'")
    executor = agent.find_executor(fid, eid)
    if executor is None or executor.state is ExecutorState.TERMINATED:
        raise ExecutorCallError(400, f"Unknown executor {eid} of framework {fid}")
    return executor


def subscribe(agent: Agent, body: Json) -> EventStream:
    """Open (or replace) the executor's stream; SUBSCRIBED first, then the queued LAUNCHes."""
    executor = _executor(agent, body)
    fw = agent.master.frameworks.get(executor.framework_id)
    if fw is None:
        raise ExecutorCallError(400, "Framework is not known to the agent")
    if executor.stream is not None:
        executor.stream.close()
    resubscribe = executor.state is not ExecutorState.REGISTERING
    stream = EventStream(name=f"executor {executor.executor_id}")
    executor.stream = stream
    if executor.state in (ExecutorState.REGISTERING, ExecutorState.RECOVERING):
        executor.state = ExecutorState.RUNNING
    subscribed = {
        "executor_info": executor.info,
        "framework_info": fw.info,
        "agent_info": agent.agent_info(),
        "container_id": {"value": executor.container_id},
    }
    stream.send({"type": "SUBSCRIBED", "subscribed": subscribed})
    sub = body.get("subscribe") or {}
    for update in sub.get("unacknowledged_updates") or []:
        status = dict(update.get("status") or {})
        if _validate_status(executor, status) is None:
            _record(agent, executor, status)
    if resubscribe:
        _drop_undelivered(agent, executor, sub.get("unacknowledged_tasks") or [])
    if executor.state is ExecutorState.TERMINATING:
        stream.send({"type": "SHUTDOWN"})
    else:
        agent.deliver_queued(executor)
    agent.master.notify()
    log.info(
        "Executor subscribed", extra={"executor": executor.executor_id, "agent": agent.agent_id}
    )
    return stream


def _drop_undelivered(agent: Agent, executor: Executor, unacked: list[Json]) -> None:
    """Delivered tasks still STAGING that the executor does not know about were lost in flight."""
    known = {get_value(t, "task_id") for t in unacked}
    fw = agent.master.frameworks.get(executor.framework_id)
    state = "TASK_DROPPED" if fw is not None and fw.partition_aware else "TASK_LOST"
    for task in executor.live_tasks:
        if task.delivered and task.state == "TASK_STAGING" and task.task_id not in known:
            agent.agent_update(
                task,
                state,
                reason="REASON_EXECUTOR_REREGISTRATION_TIMEOUT",
                message="Task launch lost in flight",
            )


def stream_closed(executor: Executor, stream: EventStream) -> None:
    if executor.stream is stream:
        executor.stream = None


def _validate_status(executor: Executor, status: Json) -> str | None:
    if not valid_uuid_b64(status.get("uuid")):
        return "Status update must have a 16-byte uuid"
    if status.get("source", "SOURCE_EXECUTOR") != "SOURCE_EXECUTOR":
        return "Status update source must be SOURCE_EXECUTOR"
    if status.get("state") in (None, "TASK_STAGING"):
        return "Status update state must be set and not TASK_STAGING"
    eid = get_value(status, "executor_id")
    if eid is not None and eid != executor.executor_id:
        return "Status update executor_id does not match"
    if not get_value(status, "task_id"):
        return "Status update has no task_id"
    return None


def update(agent: Agent, body: Json) -> None:
    executor = _executor(agent, body)
    if executor.state in (ExecutorState.REGISTERING, ExecutorState.RECOVERING):
        raise ExecutorCallError(403, "Executor is not subscribed")
    status = dict((body.get("update") or {}).get("status") or {})
    apply_update(agent, executor, status)


def apply_update(agent: Agent, executor: Executor, status: Json) -> None:
    """Validate, hand to the status update manager, and ACKNOWLEDGE the executor at once."""
    error = _validate_status(executor, status)
    if error is not None:
        raise ExecutorCallError(400, error)
    _record(agent, executor, status)
    acked = {"task_id": status["task_id"], "uuid": status["uuid"]}
    agent.deliver(executor, {"type": "ACKNOWLEDGED", "acknowledged": acked})


def _record(agent: Agent, executor: Executor, status: Json) -> None:
    tid = str(status["task_id"]["value"])
    task = executor.tasks.get(tid)
    if task is None:
        log.warning("Update for a task unknown to the agent", extra={"task": tid})
        return
    status["source"] = "SOURCE_EXECUTOR"
    if executor.pid is not None:
        status["container_status"] = {
            "container_id": {"value": executor.container_id},
            "executor_pid": executor.pid,
        }
    agent.status_update(task, status)


def message(agent: Agent, body: Json) -> None:
    executor = _executor(agent, body)
    if executor.state in (ExecutorState.REGISTERING, ExecutorState.RECOVERING):
        raise ExecutorCallError(403, "Executor is not subscribed")
    data = str((body.get("message") or {}).get("data", ""))
    send_framework_message(agent, executor, data)


def send_framework_message(agent: Agent, executor: Executor, data: str) -> None:
    """Executor -> scheduler, best effort: dropped when the framework is not connected."""
    fw = agent.master.frameworks.get(executor.framework_id)
    if fw is None or not agent.reachable:
        return
    msg = {
        "agent_id": {"value": agent.agent_id},
        "executor_id": {"value": executor.executor_id},
        "data": data,
    }
    agent.master.send(fw, {"type": "MESSAGE", "message": msg})
