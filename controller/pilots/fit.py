"""Would a task fit on a node once its pilot is gone? Free capacity and constraint matching on
Node status (attributes, hostname, totals) and the Task cache. Pure: no store, no clock.

This answers the reclaim question ahead of Mesos offers: offers of an async node are shaped by
its pilot, so the controller sizes nodes from `status.resources.total` minus what o2's other live
tasks there want (pilots excluded), and matches constraints against `status.attributes`, with
the same semantics as placement (comma-separated values are sets; UNIQUE is not checked here).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from crds.kinds.common import Constraint, uses_occ
from crds.kinds.node import Node
from crds.kinds.task import TERMINAL_PHASES, Task, is_pilot
from crds.names import join_label

"""On pilot Tasks: the Node the pilot belongs to."""
EXECUTOR_CPUS = 0.01
EXECUTOR_MEM = 32
"""The o2 executor's own share on an agent (as placement reserves it)."""


@dataclass(frozen=True)
class Amount:
    cpus: float = 0.0
    memory: float = 0.0
    ports: int = 0

    def minus(self, other: Amount) -> Amount:
        return Amount(self.cpus - other.cpus, self.memory - other.memory, self.ports - other.ports)

    def plus(self, other: Amount) -> Amount:
        return Amount(self.cpus + other.cpus, self.memory + other.memory, self.ports + other.ports)

    def covers(self, want: Amount) -> bool:
        return (
            self.cpus + 1e-9 >= want.cpus
            and self.memory >= want.memory
            and self.ports >= want.ports
        )


def pilot_name(node: str) -> str:
    """The one pilot Task name of a node: at most one pilot can exist per node, by name."""
    return join_label("pilot", node)


def wants(task: Task) -> Amount:
    """What a task takes on its agent (an `occ` task takes one more port: its OCC port)."""
    w = task.spec.wants
    extra = 1 if uses_occ(task.spec.control) else 0
    return Amount(w.cpus, float(w.memory), w.ports + extra)


def on_node(task: Task, node: Node) -> bool:
    """Whether a live (non-terminal) task is placed on the node."""
    if task.status.phase in TERMINAL_PHASES or not (task.status.agent_id or task.status.hostname):
        return False
    if node.status.agent_id and task.status.agent_id == node.status.agent_id:
        return True
    return bool(node.status.hostname) and task.status.hostname == node.status.hostname


def usage(tasks: Iterable[Task]) -> dict[str, Amount]:
    """What live non-pilot tasks take, per hostname (or agent id when no hostname is known)."""
    sums: dict[str, list[float]] = {}
    for task in tasks:
        if is_pilot(task) or task.status.phase in TERMINAL_PHASES:
            continue
        where = task.status.hostname or task.status.agent_id
        if where:
            w = task.spec.wants
            acc = sums.setdefault(where, [0.0, 0.0, 0.0])
            acc[0] += w.cpus
            acc[1] += w.memory
            acc[2] += w.ports + (1 if uses_occ(task.spec.control) else 0)
    return {k: Amount(v[0], v[1], int(v[2])) for k, v in sums.items()}


def free_without_pilot(node: Node, used: Mapping[str, Amount]) -> Amount:
    """The node's total minus the executor and every live non-pilot task placed there."""
    total = node.status.resources.total
    free = Amount(total.cpus, float(total.memory), total.ports).minus(
        Amount(EXECUTOR_CPUS, EXECUTOR_MEM, 0)
    )
    for where in {node.status.hostname, node.status.agent_id or ""} - {""}:
        free = free.minus(used.get(where, Amount()))
    return free


def _values(text: str) -> set[str]:
    return {part.strip() for part in text.split(",") if part.strip()} or {text}


def satisfies(node: Node, constraint: Constraint) -> bool:
    """One constraint against the node's attributes (`hostname` is implicit)."""
    attrs = {**node.status.attributes, "hostname": node.status.hostname}
    if node.status.agent_id:
        attrs["agent_id"] = node.status.agent_id
    value = attrs.get(constraint.attribute)
    op = constraint.operator
    if op == "UNIQUE":
        return value is not None
    if value is None:
        return op == "NOT_EQUALS"
    have = _values(value)
    if op == "EQUALS":
        return constraint.value in have or value == constraint.value
    if op == "NOT_EQUALS":
        return constraint.value not in have and value != constraint.value
    if op == "IN":
        return bool(have & set(constraint.choices()))
    return re.fullmatch(constraint.value, value) is not None


def matches(node: Node, constraints: Sequence[Constraint]) -> bool:
    return all(satisfies(node, c) for c in constraints)
