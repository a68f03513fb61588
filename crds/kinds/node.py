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


class PilotDrain(O2Model):
    """The latest drain of this node's pilot: why, when, and how long it took."""

    pilot: str
    """The pilot Task drained."""
    reason: str = ""
    """Why: `ModeSync` (an operator switched the node to sync) or `Reclaimed` (an environment)."""
    started_at: datetime | None = None
    """When the drain signal was given (the pilot Task was deleted)."""
    finished_at: datetime | None = None
    """When the pilot process was gone; None while draining."""
    seconds: float | None = None
    """finishedAt - startedAt."""


class NodeReclaim(O2Model):
    """An asynchronous node taken over automatically for an environment (spec stays async)."""

    environment: str
    """The environment whose unschedulable tasks needed this node."""
    reason: str = ""
    """The task and why it could not be placed elsewhere."""
    phase: Literal["Draining", "Reclaimed"] = "Draining"
    """Draining: the pilot is stopping; Reclaimed: the node is synchronous for now."""
    requested_at: datetime | None = None
    """When the reclaim was decided."""
    reclaimed_at: datetime | None = None
    """When the drain finished and the node became synchronous."""
    unneeded_since: datetime | None = None
    """When the environment stopped needing the node; released after the cool-down."""


class PilotBackOff(O2Model):
    """Pilots that ended by themselves in a row (not drained by o2), and the wait before the next.

    As Kubernetes' CrashLoopBackOff: after the k-th such pilot the next one starts no sooner than
    min(base * 2^(k-1), max) seconds later; the count starts again once a pilot has run for the
    reset period. Kept in status so a restarted controller keeps the same pace.
    """

    failures: int = Field(default=0, ge=0)
    """How many pilots in a row ended by themselves."""
    pilot: str = ""
    """The pilot Task that ended last."""
    pilot_uid: str = ""
    """Its uid (or Mesos task id): the same ended pilot is counted once, also across restarts."""
    phase: str = ""
    """How it ended: Failed, Lost, Killed or Finished."""
    detail: str = ""
    """Its exit code, signal or Mesos reason, when known."""
    ended_at: datetime | None = None
    """When o2 saw it end."""
    not_before: datetime | None = None
    """The next pilot is not created before this time."""


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
    reclaim: NodeReclaim | None = None
    """Set while an async node is reclaimed for an environment (then it acts as sync)."""
    drain: PilotDrain | None = None
    """The latest (or current) pilot drain."""
    backoff: PilotBackOff | None = None
    """Set while pilots keep ending by themselves: the wait before the next (see PilotBackOff)."""


class Node(Resource):
    """A Mesos agent."""

    kind: Literal["Node"] = "Node"
    """Always Node."""
    spec: NodeSpec = Field(default_factory=NodeSpec)
    """What the operator decides (cordon, mode)."""
    status: NodeStatus = Field(default_factory=NodeStatus)
    """What the node controller observed."""

    KIND: ClassVar[str] = "Node"


def effective_mode(node: Node) -> Literal["sync", "async"]:
    """What the node is now: an async node reclaimed for an environment acts as sync."""
    return "sync" if node.spec.mode == "sync" or node.status.reclaim is not None else "async"


def _mode(node: Node) -> str:
    mode: str = node.spec.mode
    if node.status.reclaim is not None:
        mode = f"sync(reclaimed:{node.status.reclaim.environment})"
    return f"{mode},cordoned" if node.spec.unschedulable else mode


def _pilot(node: Node) -> str:
    drain, backoff = node.status.drain, node.status.backoff
    if drain is not None and drain.finished_at is None:
        return f"{drain.pilot}(draining)"
    if backoff is not None and backoff.failures:
        if node.status.pilot is None and backoff.not_before is not None:
            return f"backoff({backoff.failures}x,until {backoff.not_before:%H:%M:%S}Z)"
        if node.status.pilot is not None:
            return f"{node.status.pilot}(ended {backoff.failures}x)"
    return opt(node.status.pilot)


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
            PrinterColumn("PILOT", _pilot),
            PrinterColumn("AGENT", lambda o: opt(o.status.agent_id), wide_only=True),
        ),
    )
)
