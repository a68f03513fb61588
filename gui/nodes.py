"""GUI node operations: cordon, uncordon, drain and the sync/async mode, with an audit Event.

Store I/O only (no HTTP here): the same Node spec writes as `o2 cordon|uncordon|drain` and
`o2 node mode` (compare-and-swap, retried on conflict), and the same drain plan (crds.drain):
tasks an environment owns stay until it releases them, a pilot is drained by the pilot
controller, and standalone tasks are deleted only when asked. Each action records who asked as
an Event on the Node (leased, as the environment actions' Events).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from crds.changedby import attributed
from crds.drain import DrainStep, placed_on, plan_drain
from crds.errors import NotFoundError
from crds.kinds.event import Event
from crds.kinds.node import Node
from crds.kinds.task import Task
from crds.meta import utcnow
from gui.actions import audit_event, record_event
from store.api import Store
from store.cas import update_spec

log = logging.getLogger(__name__)

NODE_SPEC: dict[str, dict[str, object]] = {
    "cordon": {"unschedulable": True},
    "uncordon": {"unschedulable": False},
    "drain": {"unschedulable": True},
    "sync": {"mode": "sync"},
    "async": {"mode": "async"},
}
"""Node action -> the spec fields it writes (drain then deals with the node's tasks)."""
NODE_ACTIONS: tuple[str, ...] = tuple(NODE_SPEC)


@dataclass(frozen=True)
class NodeResult:
    node: Node
    event: Event | None
    steps: list[DrainStep] = field(default_factory=list)
    """What a drain did with each task on the node."""
    deleted: list[str] = field(default_factory=list)
    """The standalone tasks a drain deleted."""


def node_event(node: Node, *, action: str, who: str, detail: str, now: datetime) -> Event:
    """The audit Event of a node action (gui.actions.audit_event). Pure."""
    message = f"{who} asked to {action.upper()} node/{node.metadata.name} from the GUI ({detail})"
    return audit_event(node, action=action, who=who, now=now, message=message)


def spec_detail(node: Node) -> str:
    return f"spec.unschedulable={str(node.spec.unschedulable).lower()}, spec.mode={node.spec.mode}"


async def node_action(
    store: Store, name: str, *, action: str, who: str, delete_standalone: bool = False
) -> NodeResult:
    """Write the action's Node spec, drain when asked, record the Event; NotFoundError /
    ConflictError propagate (nothing written)."""
    if action not in NODE_SPEC:
        raise ValueError(f"unknown node action {action!r}")
    update = NODE_SPEC[action]

    def mutate(node: Node) -> Node:
        spec = node.spec.model_copy(update=update)
        return attributed(node, node.model_copy(update={"spec": spec}), who)

    node = await update_spec(store, Node, name, mutate=mutate)
    log.info("GUI node action", extra={"node": name, "action": action, "who": who})
    steps: list[DrainStep] = []
    deleted: list[str] = []
    detail = spec_detail(node)
    if action == "drain":
        steps = plan_drain(await tasks_of(store, node), delete_standalone=delete_standalone)
        deleted = await _delete(store, [s.task for s in steps if s.delete])
        detail += f", {len(steps)} tasks, {len(deleted)} standalone deleted"
    event = node_event(node, action=action, who=who, detail=detail, now=utcnow())
    return NodeResult(node, await record_event(store, event), steps, deleted)


async def tasks_of(store: Store, node: Node) -> list[Task]:
    """The tasks placed on `node` (one read of every Task: nodes are opened one at a time)."""
    return placed_on(node, (await store.list(Task)).items)


async def _delete(store: Store, names: list[str]) -> list[str]:
    gone = []
    for name in names:
        try:
            await store.delete(Task, name)
        except NotFoundError:
            continue  # already gone: nothing left to do
        gone.append(name)
    return gone


async def node_detail(store: Store, name: str) -> dict[str, object]:
    """The node, its tasks and what a drain would do with each (NotFoundError propagates)."""
    node = await store.get(Node, name)
    tasks = await tasks_of(store, node)
    steps = plan_drain(tasks, delete_standalone=False)
    return {
        "node": node.model_dump(mode="json", by_alias=True),
        "tasks": [
            {
                "name": t.metadata.name,
                "owner": s.owner,
                "state": s.state,
                "drain": s.action,
            }
            for t, s in zip(tasks, steps, strict=True)
        ],
    }


def steps_json(steps: list[DrainStep]) -> list[dict[str, object]]:
    return [{"task": s.task, "owner": s.owner, "state": s.state, "action": s.action} for s in steps]
