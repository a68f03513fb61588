"""The pilot planner's input and output: the World one pass reads, the Plan it returns. Pure.

controller.pilots.plan makes a Plan from a World; controller.pilots.reclaim and the pilot
keeping there add to it; the reconciler (controller.pilots.controller) builds the World from
its caches and writes the Plan.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property

from controller.pilots.fit import Amount, usage
from controller.pilots.settings import PilotSettings
from crds.kinds.environment import Environment
from crds.kinds.node import Node, NodeStatus
from crds.kinds.task import Task
from crds.kinds.taskclass import TaskClass


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
