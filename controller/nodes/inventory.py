"""The master's agent list as o2 Node status. Pure: the JSON document in, statuses out.

A Node is named after its agent's hostname (made a DNS-1123 label), so it keeps its name
when the agent re-registers with a new agent id; `spec` (cordon, mode) belongs to operators
and is never written here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from crds.kinds.node import NodeResources, NodeStatus, ResourceAmounts
from crds.meta import Condition

_BAD = re.compile(r"[^a-z0-9-]+")


@dataclass(frozen=True)
class AgentSummary:
    agent_id: str
    hostname: str
    attributes: dict[str, str] = field(default_factory=dict)
    total: ResourceAmounts = field(default_factory=ResourceAmounts)
    used: ResourceAmounts = field(default_factory=ResourceAmounts)
    active: bool = True


def node_name(hostname: str) -> str:
    """`Agent-1.cern.ch` -> `agent-1-cern-ch` (DNS-1123 label, at most 63 characters)."""
    name = _BAD.sub("-", hostname.lower()).strip("-")[:63].strip("-")
    return name or "node"


def count_ports(text: str) -> int:
    """`[31000-31009, 32000-32000]` -> 11."""
    total = 0
    for begin, end in re.findall(r"(\d+)\s*-\s*(\d+)", text):
        total += int(end) - int(begin) + 1
    return total


def amounts(flat: Mapping[str, Any]) -> ResourceAmounts:
    """The v0 operator's flat resources (`{"cpus": 4.0, "mem": 8192.0, "ports": "[..]"}`)."""
    ports = flat.get("ports")
    return ResourceAmounts(
        cpus=float(flat.get("cpus") or 0.0),
        memory=int(float(flat.get("mem") or 0.0)),
        ports=count_ports(ports) if isinstance(ports, str) else 0,
    )


def parse_agents(doc: Mapping[str, Any]) -> list[AgentSummary]:
    """`GET /master/slaves` -> one summary per agent (malformed entries skipped)."""
    out = []
    for raw in doc.get("slaves") or []:
        if not isinstance(raw, dict) or not raw.get("id") or not raw.get("hostname"):
            continue
        attrs = raw.get("attributes") or {}
        out.append(
            AgentSummary(
                agent_id=str(raw["id"]),
                hostname=str(raw["hostname"]),
                attributes={str(k): _attr_text(v) for k, v in attrs.items()},
                total=amounts(raw.get("resources") or {}),
                used=amounts(raw.get("used_resources") or {}),
                active=bool(raw.get("active", True)),
            )
        )
    return out


def _attr_text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def seen_status(old: NodeStatus, agent: AgentSummary, *, tasks: int, now: datetime) -> NodeStatus:
    """The status of a node whose agent is in the master's list."""
    return old.model_copy(
        update={
            "hostname": agent.hostname,
            "agent_id": agent.agent_id,
            "attributes": agent.attributes,
            "resources": NodeResources(total=agent.total, allocated=agent.used),
            "tasks": tasks,
            "last_seen": now,
            "ready": agent.active,
        }
    )


def missing_status(old: NodeStatus, *, tasks: int) -> NodeStatus:
    """The status of a node whose agent is gone from the list (kept, not Ready)."""
    return old.model_copy(update={"ready": False, "tasks": tasks})


def ready_condition(status: NodeStatus, *, cordoned: bool) -> Condition:
    if not status.ready:
        return Condition(
            type="Ready",
            status="False",
            reason="AgentGone",
            message="the agent is not registered with the master",
        )
    message = "cordoned: no new tasks are placed here" if cordoned else ""
    return Condition(type="Ready", status="True", reason="AgentActive", message=message)
