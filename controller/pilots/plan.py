"""What the pilot controller does in one pass over every node. Pure: the world in, a Plan out.

Per node (in this order): advance its reclaim marker (Draining -> Reclaimed once the pilot is
gone; Reclaimed -> released after the cool-down once the environment no longer needs it); decide
new reclaims for environments whose tasks cannot be placed (both: controller.pilots.reclaim);
then keep exactly one pilot on every effectively-async node (start it, or drain it when the node
became sync) and record drains. A pilot that ended by itself is removed and the next one waits
out a growing back-off (controller.pilots.backoff), recorded in the Node status. The World and
the Plan are controller.pilots.world's.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from controller.pilots import backoff
from controller.pilots.fit import free_without_pilot, wants
from controller.pilots.pilot_task import pilot_task
from controller.pilots.reclaim import advance_marker, reclaim, usable_async
from controller.pilots.world import Note, Plan, World
from crds.conditions import get_condition, set_condition
from crds.kinds.node import Node, NodeStatus, PilotDrain, effective_mode
from crds.kinds.task import TERMINAL_PHASES, Task, is_pilot
from crds.labels import PILOT_CLASS, PILOT_LABEL
from crds.meta import Condition

__all__ = ["PILOT_CONDITION", "Note", "Plan", "World", "plan"]

PILOT_CONDITION = "Pilot"


def plan(world: World, *, now: datetime) -> Plan:
    out = Plan()
    pilots = {t.metadata.labels[PILOT_LABEL]: t for t in world.tasks if is_pilot(t)}
    statuses = {
        n.name: advance_marker(n, pilots.get(n.name), world, now=now, out=out) for n in world.nodes
    }
    reclaim(world, statuses, now=now, out=out)
    for node in world.nodes:
        view = node.model_copy(update={"status": statuses[node.name]})
        status = _keep_pilot(view, pilots.get(node.name), world, now=now, out=out)
        if status != node.status:
            out.statuses[node.name] = status
        statuses[node.name] = status
    _environment_nodes(world, statuses, out=out)
    return out


def _environment_nodes(world: World, statuses: Mapping[str, NodeStatus], *, out: Plan) -> None:
    held: dict[str, list[str]] = {}
    for name, status in statuses.items():
        if status.reclaim is not None:
            held.setdefault(status.reclaim.environment, []).append(name)
    for env in world.environments.values():
        nodes = tuple(sorted(held.get(env.name, ())))
        if nodes != env.status.reclaimed_nodes:
            out.reclaimed_nodes[env.name] = nodes


# ---- the pilot itself -------------------------------------------------------------------------


def _keep_pilot(
    node: Node, pilot: Task | None, world: World, *, now: datetime, out: Plan
) -> NodeStatus:
    if pilot is None:
        return _no_pilot(node, world, now=now, out=out)
    status = node.status.model_copy(update={"pilot": pilot.name})
    drain = status.drain
    reason = "Reclaimed" if node.status.reclaim is not None else "ModeSync"
    if pilot.metadata.deletion_timestamp is not None:
        if _removing_ended(status, pilot):
            return _backing_off(status, now=now)
        if drain is None or drain.pilot != pilot.name or drain.finished_at is not None:
            started = pilot.metadata.deletion_timestamp
            drain = PilotDrain(pilot=pilot.name, reason=reason, started_at=started)
        return _cond(status.model_copy(update={"drain": drain}), False, "Draining", now=now)
    if effective_mode(node) == "sync":
        out.drain.append(pilot.name)
        out.notes.append(Note("Node", node.name, "PilotDraining", f"draining {pilot.name}"))
        drain = PilotDrain(pilot=pilot.name, reason=reason, started_at=now)
        return _cond(status.model_copy(update={"drain": drain}), False, "Draining", now=now)
    if pilot.status.phase in TERMINAL_PHASES:
        out.drain.append(pilot.name)  # it ended by itself: remove it, a new one follows
        return _pilot_ended(node.name, status, pilot, world, now=now, out=out)
    running = pilot.status.phase == "Running"
    if running and status.backoff is not None:
        left = backoff.reset_in(status.backoff, pilot, world.settings, now=now)
        if left > 0:
            out.wake_in(left)
        else:  # it has run well: the next end starts the count again
            status = status.model_copy(update={"backoff": None})
    return _cond(status, running, "Running" if running else "Starting", now=now)


def _removing_ended(status: NodeStatus, pilot: Task) -> bool:
    """A deleting pilot that ended by itself (counted), not one o2 is draining."""
    drain = status.drain
    ours = drain is not None and drain.pilot == pilot.name and drain.finished_at is None
    return not ours and backoff.counted(status.backoff, pilot)


def _pilot_ended(
    node: str, status: NodeStatus, pilot: Task, world: World, *, now: datetime, out: Plan
) -> NodeStatus:
    if backoff.counted(status.backoff, pilot):
        return _backing_off(status, now=now)  # seen already; the deletion is under way
    record = backoff.ended(status.backoff, pilot, world.settings, now=now)
    status = status.model_copy(update={"backoff": record})
    text = backoff.message(record)
    reason = "BackOff" if backoff.waiting(record, now=now) > 0 else "PilotEnded"
    out.notes.append(Note("Node", node, reason, text, warning=True))
    return _backing_off(status, now=now)


def _backing_off(status: NodeStatus, *, now: datetime) -> NodeStatus:
    record = status.backoff
    if record is None or backoff.waiting(record, now=now) <= 0:
        return _cond(status, False, "Ended", now=now)
    return _cond(status, False, "BackOff", now=now, message=backoff.message(record))


def _no_pilot(node: Node, world: World, *, now: datetime, out: Plan) -> NodeStatus:
    status = node.status.model_copy(update={"pilot": None})
    drain = status.drain
    if drain is not None and drain.finished_at is None:
        took = (now - drain.started_at).total_seconds() if drain.started_at else 0.0
        drain = drain.model_copy(update={"finished_at": now, "seconds": round(took, 3)})
        status = status.model_copy(update={"drain": drain})
        message = f"pilot {drain.pilot} drained in {took:.1f}s ({drain.reason})"
        out.notes.append(Note("Node", node.name, "PilotDrained", message))
    if effective_mode(node) == "sync":  # an operator or an environment took it: a new streak
        status = status.model_copy(update={"backoff": None})
        return _cond(status, False, "Sync", now=now, keep_absent=True)
    if not usable_async(node) or not node.status.hostname:
        return _cond(status, False, "NodeNotUsable", now=now)
    class_name = node.metadata.annotations.get(PILOT_CLASS) or world.settings.pilot_class
    cls = world.classes.get(class_name)
    if cls is None or not cls.spec.pilot:
        return _cond(status, False, "NoPilotClass", now=now, message=f"taskclass {class_name}")
    left = backoff.waiting(status.backoff, now=now)
    if left > 0:
        out.wake_in(left)
        return _backing_off(status, now=now)
    task = pilot_task(node, cls)
    if not free_without_pilot(node, world.used).covers(wants(task)):
        return _cond(status, False, "InsufficientResources", now=now)
    out.create.append(task)
    after = status.backoff
    why = f" ({after.failures} ended in a row before it)" if after and after.failures else ""
    out.notes.append(Note("Node", node.name, "PilotStarting", f"starting {task.name}{why}"))
    return _cond(status.model_copy(update={"pilot": task.name}), False, "Starting", now=now)


def _cond(
    status: NodeStatus,
    ok: bool,
    reason: str,
    *,
    now: datetime,
    message: str = "",
    keep_absent: bool = False,
) -> NodeStatus:
    """Set the Pilot condition (a sync node that never had one gets none)."""
    if keep_absent and get_condition(status.conditions, PILOT_CONDITION) is None:
        return status
    cond = Condition(
        type=PILOT_CONDITION, status="True" if ok else "False", reason=reason, message=message
    )
    return status.model_copy(update={"conditions": set_condition(status.conditions, cond, now=now)})
