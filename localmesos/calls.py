"""Scheduler calls other than SUBSCRIBE (ACCEPT, DECLINE, KILL, RECONCILE, ...), as Mesos 1.11."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from localmesos.model import Framework, Json, Offer, Task, get_value
from localmesos.resources import Resources

if TYPE_CHECKING:
    from localmesos.agent import Agent
    from localmesos.master import Master

log = logging.getLogger(__name__)

DEFAULT_REFUSE_SECONDS = 5.0
NO_OP_CALLS = frozenset(
    {
        "REQUEST",
        "ACCEPT_INVERSE_OFFERS",
        "DECLINE_INVERSE_OFFERS",
        "ACKNOWLEDGE_OPERATION_STATUS",
        "RECONCILE_OPERATIONS",
    }
)


class InvalidCall(Exception):
    """A malformed call: HTTP 400."""


def handle_call(master: Master, fw: Framework, body: Json) -> int:
    """Apply one call; returns the HTTP status Mesos would answer."""
    kind = str(body.get("type"))
    if kind in NO_OP_CALLS:
        return 202
    handler = _HANDLERS.get(kind)
    if handler is None:
        return 501
    try:
        handler(master, fw, body.get(kind.lower()) or {})
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidCall(f"{kind}: {exc}") from exc
    return 200 if kind == "UPDATE_FRAMEWORK" else 202


def _ids(items: list[Any] | None) -> list[str]:
    return [str(i["value"]) for i in items or []]


def _refuse_seconds(payload: Json) -> float:
    return float((payload.get("filters") or {}).get("refuse_seconds", DEFAULT_REFUSE_SECONDS))


def _accept(master: Master, fw: Framework, payload: Json) -> None:
    offers, error = _take_offers(master, fw, _ids(payload.get("offer_ids")))
    operations = payload.get("operations") or []
    if error is not None:
        for offer in offers:
            master.drop_offer(offer)
        lost = "TASK_DROPPED" if fw.partition_aware else "TASK_LOST"
        for task_info in _operation_tasks(operations):
            master.master_update(
                fw,
                str(task_info["task_id"]["value"]),
                lost,
                reason="REASON_INVALID_OFFERS",
                message=error,
            )
        return
    agent = master.agents[offers[0].agent_id]
    remaining = Resources()
    for offer in offers:
        remaining = remaining + offer.resources
        master.drop_offer(offer)
    for op in operations:
        if op.get("type") == "LAUNCH":
            for task_info in (op.get("launch") or {}).get("task_infos", []):
                remaining = _launch(
                    master, fw, agent, [task_info], group_executor=None, remaining=remaining
                )
        elif op.get("type") == "LAUNCH_GROUP":
            group = op.get("launch_group") or {}
            tasks = (group.get("task_group") or {}).get("tasks", [])
            remaining = _launch(
                master, fw, agent, tasks, group_executor=group.get("executor"), remaining=remaining
            )
        else:
            log.warning("Unsupported offer operation", extra={"operation": op.get("type")})
    master.add_filter(fw, agent.agent_id, remaining, _refuse_seconds(payload))


def _operation_tasks(operations: list[Json]) -> list[Json]:
    out: list[Json] = []
    for op in operations:
        out.extend((op.get("launch") or {}).get("task_infos", []))
        out.extend(((op.get("launch_group") or {}).get("task_group") or {}).get("tasks", []))
    return out


def _take_offers(
    master: Master, fw: Framework, offer_ids: list[str]
) -> tuple[list[Offer], str | None]:
    offers: list[Offer] = []
    error: str | None = None if offer_ids else "No offers specified"
    for oid in offer_ids:
        offer = master.offers.get(oid)
        if offer is None or offer.framework_id != fw.framework_id:
            error = f"Offer {oid} is no longer valid"
        elif offer in offers:
            error = f"Offer {oid} is used more than once"
        else:
            offers.append(offer)
    if error is None and len({o.agent_id for o in offers}) > 1:
        error = "Aggregated offers must belong to one single agent"
    return offers, error


def _launch(
    master: Master,
    fw: Framework,
    agent: Agent,
    infos: list[Json],
    *,
    group_executor: Json | None,
    remaining: Resources,
) -> Resources:
    """Validate and launch one task (LAUNCH) or one task group; returns what is left unused."""
    error, need, executor_info, each = _validate(
        fw, agent, infos, group_executor=group_executor, remaining=remaining
    )
    if error is not None:
        reason = (
            "REASON_TASK_GROUP_INVALID" if group_executor is not None else "REASON_TASK_INVALID"
        )
        for info in infos:
            tid = get_value(info, "task_id") or ""
            master.master_update(fw, tid, "TASK_ERROR", reason=reason, message=error)
        return remaining
    group_ids = [str(i["task_id"]["value"]) for i in infos] if group_executor is not None else None
    tasks = [
        _new_task(fw, agent, info, executor_info, group_ids, resources=res)
        for info, res in zip(infos, each, strict=True)
    ]
    for task in tasks:
        fw.tasks[task.task_id] = task
    agent.launch(fw, executor_info, tasks, group=group_executor is not None)
    return remaining - need


def _new_task(
    fw: Framework,
    agent: Agent,
    info: Json,
    executor_info: Json | None,
    group: list[str] | None,
    *,
    resources: Resources,
) -> Task:
    """STAGING; the master fills in agent_id and the executor (with its framework_id)."""
    full = dict(info)
    full["agent_id"] = {"value": agent.agent_id}
    if executor_info is not None:
        full["executor"] = executor_info
    task_id = str(full["task_id"]["value"])
    return Task(
        task_id=task_id,
        framework_id=fw.framework_id,
        agent_id=agent.agent_id,
        executor_id=str(executor_info["executor_id"]["value"]) if executor_info else task_id,
        info=full,
        resources=resources,
        group=group,
    )


def _validate_task(
    fw: Framework, agent: Agent, info: Json, *, seen: set[str], in_group: bool
) -> str | None:
    tid = get_value(info, "task_id")
    if not tid:
        return "Task has no task_id"
    if tid in fw.tasks or tid in fw.unreachable_tasks or tid in seen:
        return f"Task {tid} has a duplicate ID"
    seen.add(tid)
    if get_value(info, "agent_id") not in (None, agent.agent_id):
        return f"Task {tid} uses an agent_id other than the offer's"
    if in_group and "executor" in info:
        return f"Task {tid} in a group must not set its own executor"
    if not in_group and ("executor" in info) == ("command" in info):
        return f"Task {tid} must set exactly one of executor or command"
    return None


def _validate(
    fw: Framework,
    agent: Agent,
    infos: list[Json],
    *,
    group_executor: Json | None,
    remaining: Resources,
) -> tuple[str | None, Resources, Json | None, list[Resources]]:
    """(error, resources needed, the executor's info, each task's resources): each task's
    resources parsed once, here, for its Task too."""
    need = Resources()
    seen: set[str] = set()
    each: list[Resources] = []
    executor_info = group_executor
    for info in infos:
        error = _validate_task(fw, agent, info, seen=seen, in_group=group_executor is not None)
        if error is not None:
            return error, need, None, each
        if group_executor is None:
            executor_info = info.get("executor")
        try:
            each.append(Resources.from_json(info.get("resources")))
        except (KeyError, ValueError) as exc:
            tid = get_value(info, "task_id")
            return f"Task {tid} has invalid resources: {exc}", need, None, each
        need = need + each[-1]
    if executor_info is not None:
        executor_info = {**executor_info, "framework_id": {"value": fw.framework_id}}
        error = _validate_executor(executor_info, group=group_executor is not None)
        if error is not None:
            return error, need, None, each
        existing = agent.find_executor(fw.framework_id, str(executor_info["executor_id"]["value"]))
        if existing is None:
            need = need + Resources.from_json(executor_info.get("resources"))
        elif _comparable(existing.info) != _comparable(executor_info):
            return "ExecutorInfo is not compatible with the running executor", need, None, each
    if not remaining.contains(need):
        return "Task uses more resources than offered", need, None, each
    return None, need, executor_info, each


def _validate_executor(info: Json, *, group: bool) -> str | None:
    if not get_value(info, "executor_id"):
        return "ExecutorInfo has no executor_id"
    kind = info.get("type")
    if group and kind is None:
        return "ExecutorInfo.type must be set for a task group"
    if kind == "DEFAULT":
        return "The DEFAULT executor is not supported by localmesos; use a CUSTOM executor"
    if kind not in (None, "CUSTOM"):
        return f"Unknown executor type {kind}"
    if "command" not in info:
        return "A CUSTOM executor must have a command"
    if group:
        res = Resources.from_json(info.get("resources"))
        if res.scalars.get("cpus", 0.0) < 0.01 or res.scalars.get("mem", 0.0) < 32:
            return "A task group's executor needs at least 0.01 cpus and 32 MB of mem"
    return None


def _comparable(info: Json) -> Json:
    return {k: v for k, v in info.items() if k not in ("framework_id", "type")}


def _decline(master: Master, fw: Framework, payload: Json) -> None:
    refuse = _refuse_seconds(payload)
    for oid in _ids(payload.get("offer_ids")):
        offer = master.offers.get(oid)
        if offer is not None and offer.framework_id == fw.framework_id:
            master.drop_offer(offer)
            master.add_filter(fw, offer.agent_id, offer.resources, refuse)


def _revive(master: Master, fw: Framework, payload: Json) -> None:
    fw.filters.clear()
    fw.suppressed = False
    master.request_allocation()


def _suppress(master: Master, fw: Framework, payload: Json) -> None:
    fw.suppressed = True


def _kill(master: Master, fw: Framework, payload: Json) -> None:
    tid = str(payload["task_id"]["value"])
    task = fw.tasks.get(tid)
    if task is None:
        reconcile_tasks(master, fw, [{"task_id": {"value": tid}, **_agent_of(payload)}])
        return
    agent = master.agents.get(task.agent_id)
    if agent is not None and agent.reachable:
        agent.kill_task(task, kill_policy=payload.get("kill_policy"))


def _agent_of(payload: Json) -> Json:
    return {"agent_id": payload["agent_id"]} if "agent_id" in payload else {}


def _shutdown(master: Master, fw: Framework, payload: Json) -> None:
    agent = master.agents.get(str(payload["agent_id"]["value"]))
    if agent is not None:
        executor = agent.find_executor(fw.framework_id, str(payload["executor_id"]["value"]))
        if executor is not None:
            agent.shutdown_executor(executor)


def _acknowledge(master: Master, fw: Framework, payload: Json) -> None:
    agent = master.agents.get(str(payload["agent_id"]["value"]))
    if agent is not None:
        agent.acknowledge(fw.framework_id, str(payload["task_id"]["value"]), str(payload["uuid"]))


def _message(master: Master, fw: Framework, payload: Json) -> None:
    agent = master.agents.get(str(payload["agent_id"]["value"]))
    if agent is not None:
        agent.message_to_executor(
            fw.framework_id, str(payload["executor_id"]["value"]), str(payload.get("data", ""))
        )


def _teardown(master: Master, fw: Framework, payload: Json) -> None:
    master.remove_framework(fw)


def _update_framework(master: Master, fw: Framework, payload: Json) -> None:
    info = dict(payload["framework_info"])
    for key in ("user", "checkpoint", "principal", "id"):
        if key in fw.info:
            info[key] = fw.info[key]
    fw.info = info


def _reconcile(master: Master, fw: Framework, payload: Json) -> None:
    reconcile_tasks(master, fw, payload.get("tasks") or [])


def reconcile_tasks(master: Master, fw: Framework, wanted: list[Json]) -> None:
    """Implicit (empty list) and explicit reconciliation, as master.cpp does it."""
    if not wanted:
        for task in list(fw.tasks.values()):
            _reconcile_reply(master, fw, task.task_id, task.reported_state(), task)
        for task in list(fw.unreachable_tasks.values()):
            _reconcile_reply(master, fw, task.task_id, _unreachable_state(fw), task)
        return
    for item in wanted:
        tid = str(item["task_id"]["value"])
        known = fw.tasks.get(tid)
        if known is not None:
            _reconcile_reply(master, fw, tid, known.reported_state(), known)
            continue
        lost = fw.unreachable_tasks.get(tid)
        if lost is not None:
            _reconcile_reply(master, fw, tid, _unreachable_state(fw), lost)
            continue
        agent_id = get_value(item, "agent_id")
        agent = master.agents.get(agent_id) if agent_id else None
        if agent is not None and not agent.reachable:
            state = _unreachable_state(fw)
        elif agent is not None:
            state = "TASK_GONE" if fw.partition_aware else "TASK_LOST"
        else:
            state = "TASK_UNKNOWN" if fw.partition_aware else "TASK_LOST"
        master.master_update(
            fw,
            tid,
            state,
            reason="REASON_RECONCILIATION",
            message="Reconciliation: Task is unknown",
            agent_id={"value": agent_id} if agent_id else None,
        )


def _unreachable_state(fw: Framework) -> str:
    return "TASK_UNREACHABLE" if fw.partition_aware else "TASK_LOST"


def _reconcile_reply(master: Master, fw: Framework, tid: str, state: str, task: Task) -> None:
    master.master_update(
        fw,
        tid,
        state,
        reason="REASON_RECONCILIATION",
        message="Reconciliation: Latest task state",
        agent_id={"value": task.agent_id},
        executor_id={"value": task.executor_id},
        unreachable_time=(
            {"nanoseconds": int(task.unreachable_time * 1e9)} if task.unreachable_time else None
        ),
    )


_HANDLERS: dict[str, Callable[[Master, Framework, Json], None]] = {
    "ACCEPT": _accept,
    "DECLINE": _decline,
    "REVIVE": _revive,
    "SUPPRESS": _suppress,
    "KILL": _kill,
    "SHUTDOWN": _shutdown,
    "ACKNOWLEDGE": _acknowledge,
    "MESSAGE": _message,
    "TEARDOWN": _teardown,
    "UPDATE_FRAMEWORK": _update_framework,
    "RECONCILE": _reconcile,
}
