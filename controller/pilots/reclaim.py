"""Reclaim: async nodes an environment needs become sync, and async again once it is done. Pure.

Each pass first advances every node's reclaim marker: Draining -> Reclaimed once the pilot is
gone; Reclaimed -> released after the cool-down once the environment no longer needs the node
(an operator's `mode: sync` ends it at once). Then it decides new reclaims: a task pending as
Unschedulable for `pending_age` whose environment allows it (`spec.reclaim: Auto`) takes the
first usable async node it would fit on once that node's pilot is gone, at most
`max_reclaiming` draining at once; otherwise the environment gets a ReclaimPossible hint.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from controller.pilots.fit import Amount, free_without_pilot, matches, on_node, wants
from controller.pilots.world import Note, Plan, World
from crds.conditions import get_condition
from crds.kinds.environment import Environment
from crds.kinds.node import Node, NodeReclaim, NodeStatus, effective_mode
from crds.kinds.task import Task, is_pilot

# ---- reclaim markers ------------------------------------------------------------------------


def _both(out: Plan, node: str, env: str, reason: str, message: str) -> None:
    out.notes.append(Note("Node", node, reason, message))
    out.notes.append(Note("Environment", env, reason, message))


def advance_marker(
    node: Node, pilot: Task | None, world: World, *, now: datetime, out: Plan
) -> NodeStatus:
    """The node's status with its reclaim marker moved on (unchanged when it has none)."""
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


def usable_async(node: Node) -> bool:
    """An async node that is ready, schedulable and not being deleted: it may run a pilot."""
    return (
        effective_mode(node) == "async"
        and node.status.ready
        and not node.spec.unschedulable
        and node.metadata.deletion_timestamp is None
    )


def reclaim(world: World, statuses: dict[str, NodeStatus], *, now: datetime, out: Plan) -> None:
    """Start the reclaims the waiting tasks need (in `statuses`), or hint at them."""
    candidates = _candidates(world, now=now, out=out)
    if not candidates:
        return  # the usual pass: nothing waits, no capacity to size
    nodes = sorted(
        (n.model_copy(update={"status": statuses[n.name]}) for n in world.nodes),
        key=lambda n: n.name,
    )
    free = {n.name: free_without_pilot(n, world.used) for n in nodes}
    incoming = [n for n in nodes if n.status.reclaim is not None]
    pool = [n for n in nodes if usable_async(n)]
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
