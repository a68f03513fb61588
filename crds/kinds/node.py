"""Node: one Mesos agent as o2 sees it (resources, attributes, mode, readiness). Pure."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from pydantic import Field

from crds.kinds.common import opt
from crds.meta import O2Model, Status
from crds.resource import KindInfo, PrinterColumn, Resource, register


class NodeSpec(O2Model):
    """What the operator decides about an agent."""

    unschedulable: bool = False
    """Cordoned: no new tasks are placed here."""
    mode: Literal["sync", "async"] = "sync"
    """sync: environments' tasks run here; async: a pilot job runs here until reclaimed."""


class ResourceAmounts(O2Model):
    """An amount of agent resources."""

    cpus: float = Field(default=0.0, ge=0)
    """CPU shares."""
    memory: int = Field(default=0, ge=0)
    """MB."""
    ports: int = Field(default=0, ge=0)
    """Number of ports."""


class NodeResources(O2Model):
    total: ResourceAmounts = Field(default_factory=ResourceAmounts)
    """What the agent offers in all."""
    allocated: ResourceAmounts = Field(default_factory=ResourceAmounts)
    """What o2's tasks hold on it."""


class NodeStatus(Status):
    """What the node controller observed from the master."""

    hostname: str = ""
    """The agent's hostname."""
    agent_id: str | None = None
    """The Mesos agent id (changes when the agent re-registers anew)."""
    attributes: dict[str, str] = Field(default_factory=dict)
    """Agent attributes, matched by task constraints."""
    resources: NodeResources = Field(default_factory=NodeResources)
    """Total and allocated resources."""
    tasks: int = 0
    """How many o2 tasks run on it."""
    last_seen: datetime | None = None
    """When the agent was last seen in the master's agent list or an offer."""
    ready: bool = False
    """The agent is registered and reachable."""
    pilot: str | None = None
    """The pilot Task on this node (async mode), if any."""


class Node(Resource):
    """A Mesos agent."""

    kind: Literal["Node"] = "Node"
    """Always Node."""
    spec: NodeSpec = Field(default_factory=NodeSpec)
    """What the operator decides (cordon, mode)."""
    status: NodeStatus = Field(default_factory=NodeStatus)
    """What the node controller observed."""

    KIND: ClassVar[str] = "Node"


def _mode(node: Node) -> str:
    return f"{node.spec.mode},cordoned" if node.spec.unschedulable else node.spec.mode


def _cpus(node: Node) -> str:
    r = node.status.resources
    return f"{r.allocated.cpus:g}/{r.total.cpus:g}"


def _mem(node: Node) -> str:
    r = node.status.resources
    return f"{r.allocated.memory}/{r.total.memory}"


INFO = register(
    KindInfo(
        kind="Node",
        plural="nodes",
        singular="node",
        short_names=("no",),
        model=Node,
        columns=(
            PrinterColumn("NAME", lambda o: o.metadata.name),
            PrinterColumn("HOSTNAME", lambda o: o.status.hostname),
            PrinterColumn("MODE", _mode),
            PrinterColumn("READY", lambda o: str(o.status.ready).lower()),
            PrinterColumn("CPUS", _cpus),
            PrinterColumn("MEM", _mem),
            PrinterColumn("TASKS", lambda o: str(o.status.tasks)),
            PrinterColumn("PILOT", lambda o: opt(o.status.pilot)),
            PrinterColumn("AGENT", lambda o: opt(o.status.agent_id), wide_only=True),
        ),
    )
)
