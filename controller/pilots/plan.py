"""What the pilot controller does in one pass over every node. Pure: the world in, a Plan out.

Per node (in this order): advance its reclaim marker (Draining -> Reclaimed once the pilot is
gone; Reclaimed -> released after the cool-down once the environment no longer needs it); decide
new reclaims for environments whose tasks cannot be placed; then keep exactly one pilot on every
effectively-async node (start it, or drain it when the node became sync) and record drains. A
pilot that ended by itself is removed and the next one waits out a growing back-off
(controller.pilots.backoff), recorded in the Node status.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property

from controller.pilots import backoff
from controller.pilots.fit import (
    Amount,
    free_without_pilot,
    matches,
    on_node,
    usage,
    wants,
)
from controller.pilots.pilot_task import pilot_task
from controller.pilots.settings import PilotSettings
from crds.conditions import get_condition, set_condition
from crds.kinds.environment import Environment
from crds.kinds.node import Node, NodeReclaim, NodeStatus, PilotDrain, effective_mode
from crds.kinds.task import TERMINAL_PHASES, Task, is_pilot
from crds.kinds.taskclass import TaskClass
from crds.labels import PILOT_CLASS, PILOT_LABEL
from crds.meta import Condition

PILOT_CONDITION = "Pilot"


@dataclass(frozen=True)
class Note:
    """An Event to report on a Node or an Environment."""

    kind: str
    name: str
    reason: str
    message: str
    warning: bool = False


@dataclass(frozen=True)
class World:
    nodes: Sequence[Node]
    tasks: Sequence[Task]
    environments: Mapping[str, Environment]
    classes: Mapping[str, TaskClass]
    settings: PilotSettings

    @cached_property
    def used(self) -> dict[str, Amount]:
        """Per host, what live non-pilot tasks take (computed once per pass)."""
        return usage(self.tasks)

    @cached_property
    def by_environment(self) -> dict[str, list[Task]]:
        out: dict[str, list[Task]] = {}
        for task in self.tasks:
            if task.spec.environment:
                out.setdefault(task.spec.environment, []).append(task)
        return out


@dataclass
class Plan:
    statuses: dict[str, NodeStatus] = field(default_factory=dict)
    """Node name -> new status (only those that change)."""
    create: list[Task] = field(default_factory=list)
    drain: list[str] = field(default_factory=list)
    """Pilot Tasks to delete: the executor's kill ladder is the drain signal."""
    notes: list[Note] = field(default_factory=list)
    requeue_after: float | None = None
    reclaimed_nodes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Environment name -> its new status.reclaimedNodes (only those that change)."""

    def wake_in(self, seconds: float) -> None:
        seconds = max(seconds, 0.1)
        if self.requeue_after is None or seconds < self.requeue_after:
            self.requeue_after = seconds


def plan(world: World, *, now: datetime) -> Plan:
    out = Plan()
    pilots = {t.metadata.labels[PILOT_LABEL]: t for t in world.tasks if is_pilot(t)}
    statuses = {
        n.name: _advance_marker(n, pilots.get(n.name), world, now=now, out=out) for n in world.nodes
    }
    _reclaim(world, statuses, now=now, out=out)
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


# ---- reclaim markers ------------------------------------------------------------------------


def _both(out: Plan, node: str, env: str, reason: str, message: str) -> None:
    out.notes.append(Note("Node", node, reason, message))
    out.notes.append(Note("Environment", env, reason, message))


def _advance_marker(
    node: Node, pilot: Task | None, world: World, *, now: datetime, out: Plan
) -> NodeStatus:
    marker = node.status.reclaim
    if marker is None:
        return node.status
    if node.spec.mode == "sync":
        out.notes.append(Note("Node", node.name, "ReclaimEnded", "an operator set mode sync"))
        return node.status.model_copy(update={"reclaim": None})
    if marker.phase == "Draining":
        if pilot is not None:
            return node.status
        took = (now - marker.requested_at).total_seconds() if marker.requested_at else 0.0
        _both(
            out,
            node.name,
            marker.environment,
            "Reclaimed",
            f"node {node.name} is sync for environment {marker.environment} "
            f"(pilot drained in {took:.1f}s): {marker.reason}",
        )
        done = marker.model_copy(update={"phase": "Reclaimed", "reclaimed_at": now})
        return node.status.model_copy(update={"reclaim": done})
    return _maybe_release(node, marker, world, now=now, out=out)


def _maybe_release(
    node: Node, marker: NodeReclaim, world: World, *, now: datetime, out: Plan
) -> NodeStatus:
    if _needed(marker.environment, node, world):
        if marker.unneeded_since is None:
            return node.status
        return node.status.model_copy(
            update={"reclaim": marker.model_copy(update={"unneeded_since": None})}
        )
    since = marker.unneeded_since or now
    left = world.settings.cooldown - (now - since).total_seconds()
    if left > 0:
        out.wake_in(left)
        return node.status.model_copy(
            update={"reclaim": marker.model_copy(update={"unneeded_since": since})}
        )
    _both(
        out,
        node.name,
        marker.environment,
        "Released",
        f"node {node.name} is async again: environment {marker.environment} no longer "
        f"needs it (cool-down {world.settings.cooldown:g}s)",
    )
    return node.status.model_copy(update={"reclaim": None})


def _needed(env_name: str, node: Node, world: World) -> bool:
    """The environment is live and has a task on the node or a task still waiting."""
    env = world.environments.get(env_name)
    if env is None or "DONE" in (env.spec.state, env.status.state):
        return False
    for task in world.by_environment.get(env_name, ()):
        if task.metadata.deletion_timestamp is not None:
            continue
        if on_node(task, node) or task.status.phase == "Pending":
            return True
    return False


# ---- reclaim decisions ------------------------------------------------------------------------


def unschedulable_since(task: Task) -> datetime | None:
    """When a pending environment task was found to fit no offer (None: it is not such)."""
    if is_pilot(task) or task.spec.environment is None or task.status.mesos_task_id:
        return None
    if task.status.phase != "Pending" or task.metadata.deletion_timestamp is not None:
        return None
    cond = get_condition(task.status.conditions, "Scheduled")
    if cond is None or cond.status != "False" or cond.reason != "Unschedulable":
        return None
    return cond.last_transition_time


def _candidates(world: World, *, now: datetime, out: Plan) -> list[Task]:
    found = []
    for task in sorted(world.tasks, key=lambda t: t.name):
        since = unschedulable_since(task)
        env = world.environments.get(task.spec.environment or "")
        if since is None or env is None or "DONE" in (env.spec.state, env.status.state):
            continue
        waited = (now - since).total_seconds()
        if waited < world.settings.pending_age:
            out.wake_in(world.settings.pending_age - waited)
            continue
        found.append(task)
    return found


def _usable_async(node: Node) -> bool:
    return (
        effective_mode(node) == "async"
        and node.status.ready
        and not node.spec.unschedulable
        and node.metadata.deletion_timestamp is None
    )


def _reclaim(world: World, statuses: dict[str, NodeStatus], *, now: datetime, out: Plan) -> None:
    candidates = _candidates(world, now=now, out=out)
    if not candidates:
        return  # the usual pass: nothing waits, no capacity to size
    nodes = sorted(
        (n.model_copy(update={"status": statuses[n.name]}) for n in world.nodes),
        key=lambda n: n.name,
    )
    free = {n.name: free_without_pilot(n, world.used) for n in nodes}
    incoming = [n for n in nodes if n.status.reclaim is not None]
    pool = [n for n in nodes if _usable_async(n)]
    draining = sum(1 for n in incoming if n.status.reclaim and n.status.reclaim.phase == "Draining")
    for task in candidates:
        need = wants(task)
        if _take(incoming, free, task, need) is not None:
            continue  # a node already reclaimed (or draining) will take it
        target = _take(pool, free, task, need, dry=True)
        if target is None:
            continue
        env = world.environments[task.spec.environment or ""]
        if not world.settings.reclaim or env.spec.reclaim != "Auto":
            out.notes.append(_hint(env, task, target))
            continue
        if draining >= world.settings.max_reclaiming:
            continue  # the cap: looked at again when a drain ends (a Node change)
        free[target.name] = free[target.name].minus(need)
        draining += 1
        pool.remove(target)
        incoming.append(target)
        statuses[target.name] = _start_reclaim(target, env, task, now=now, out=out)


def _take(
    nodes: Sequence[Node], free: dict[str, Amount], task: Task, need: Amount, *, dry: bool = False
) -> Node | None:
    for node in nodes:
        if matches(node, task.spec.constraints) and free[node.name].covers(need):
            if not dry:
                free[node.name] = free[node.name].minus(need)
            return node
    return None


def _hint(env: Environment, task: Task, node: Node) -> Note:
    return Note(
        "Environment",
        env.name,
        "ReclaimPossible",
        f"task {task.name} would fit on async node {node.name}: set spec.reclaim: Auto, or "
        f"`o2 node mode {node.name} sync`",
    )


def _start_reclaim(
    node: Node, env: Environment, task: Task, *, now: datetime, out: Plan
) -> NodeStatus:
    cond = get_condition(task.status.conditions, "Scheduled")
    why = f"task {task.name} cannot be placed ({cond.message if cond else 'unschedulable'})"
    _both(out, node.name, env.name, "Reclaiming", f"reclaiming async node {node.name}: {why}")
    marker = NodeReclaim(environment=env.name, reason=why, phase="Draining", requested_at=now)
    return node.status.model_copy(update={"reclaim": marker})


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
    if not _usable_async(node) or not node.status.hostname:
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
