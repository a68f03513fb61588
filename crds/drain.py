"""What a drain (`o2 drain` or the GUI) does with each task on a node. Pure: tasks in, steps."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from crds.kinds.node import Node
from crds.kinds.task import Task
from crds.labels import IDLE_LABEL


@dataclass(frozen=True)
class DrainStep:
    task: str
    owner: str
    state: str
    action: str
    delete: bool = False

    def row(self) -> list[str]:
        return [self.task, self.owner, self.state, self.action]


def owner_of(task: Task) -> str:
    """`environment/x`, `node/y` (a pilot), or "" for a standalone (or idle) task."""
    refs = task.metadata.owner_references
    if refs:
        return f"{refs[0].kind.lower()}/{refs[0].name}"
    if task.spec.environment:
        return f"environment/{task.spec.environment}"
    return ""


def step_for(task: Task, *, delete_standalone: bool) -> DrainStep:
    owner = owner_of(task)
    state = task.status.state or task.status.phase
    name = task.metadata.name
    if owner.startswith("environment/"):
        action = f"left to {owner}: moves when the environment releases it (exit or redeploy)"
        return DrainStep(name, owner, state, action)
    if owner.startswith("node/"):
        action = "pilot: the node controller drains it (`o2 node mode NODE sync`)"
        return DrainStep(name, owner, state, action)
    if owner:
        return DrainStep(name, owner, state, f"left to {owner}")
    idle = task.metadata.labels.get(IDLE_LABEL) == "true"
    kind = "idle" if idle else "standalone"
    if delete_standalone:
        return DrainStep(name, f"<{kind}>", state, "delete", delete=True)
    return DrainStep(name, f"<{kind}>", state, "kept: pass --delete-standalone to delete it")


def plan_drain(tasks: Iterable[Task], *, delete_standalone: bool) -> list[DrainStep]:
    return [step_for(t, delete_standalone=delete_standalone) for t in tasks]


def placed_on(node: Node, tasks: Iterable[Task]) -> list[Task]:
    """The tasks placed on `node` (by agent id, or hostname when either agent id is unknown),
    sorted by name."""
    agent, host = node.status.agent_id, node.status.hostname or node.metadata.name

    def here(task: Task) -> bool:
        if agent and task.status.agent_id:
            return task.status.agent_id == agent
        return task.status.hostname == host

    return sorted((t for t in tasks if here(t)), key=lambda t: t.metadata.name)
