"""What `o2 top` computes from two samples of the agents' `/monitor/statistics`. Pure: the
samples come from cli.mesos_files, the Tasks and Nodes from the store.

Mesos counts CPU as cumulative seconds (`cpus_user_time_secs + cpus_system_time_secs`), so a
rate needs two samples: CPU% = (seconds used between them) / (seconds between their
timestamps) x 100, i.e. percent of one core, as top(1) shows it. A node's CPU(cores) is the
sum of its executors' rates, its CPU% that sum over the node's allocatable cpus.

Mesos reports one entry per executor. The o2 executor hosts every o2 task on its agent, so a
task's own figures come from the entry's `process_groups` (the local cluster's extension: the
o2 executor starts each task in its own session, so the group id is the task's pid). An agent
without that breakdown (real Mesos) gives node figures only; its tasks show `-`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from crds.kinds.node import Node
from crds.kinds.task import TERMINAL_PHASES, Task

MB = 1024 * 1024
Json = dict[str, Any]


@dataclass(frozen=True)
class Figures:
    """Cumulative CPU seconds (user + system) and resident bytes at one moment."""

    timestamp: float
    cpu_secs: float
    rss_bytes: int


@dataclass(frozen=True)
class ExecutorUsage:
    """One `/monitor/statistics` element."""

    agent_id: str
    executor_id: str
    figures: Figures
    cpus_limit: float
    mem_limit_bytes: int
    groups: Mapping[int, Figures] | None
    """Per process group id; None when the agent gives no breakdown."""


Sample = dict[tuple[str, str], ExecutorUsage]
"""Executors by (agent id, executor id)."""


def _figures(item: Mapping[str, Any], *, timestamp: float) -> Figures:
    cpu = float(item.get("cpus_user_time_secs", 0.0)) + float(
        item.get("cpus_system_time_secs", 0.0)
    )
    return Figures(timestamp=timestamp, cpu_secs=cpu, rss_bytes=int(item.get("mem_rss_bytes", 0)))


def parse_entry(entry: Mapping[str, Any], *, agent_id: str) -> ExecutorUsage:
    """One element of an agent's answer; `agent_id` is the agent asked (an `agent_id` in the
    entry wins: the local cluster's hollow agents all answer on the master's port)."""
    stats = entry.get("statistics") or {}
    stamp = float(stats.get("timestamp", 0.0))
    raw_groups = entry.get("process_groups")
    groups = None
    if isinstance(raw_groups, list):
        groups = {int(g["pgid"]): _figures(g, timestamp=stamp) for g in raw_groups}
    return ExecutorUsage(
        agent_id=str(entry.get("agent_id") or agent_id),
        executor_id=str(entry.get("executor_id", "")),
        figures=_figures(stats, timestamp=stamp),
        cpus_limit=float(stats.get("cpus_limit", 0.0)),
        mem_limit_bytes=int(stats.get("mem_limit_bytes", 0)),
        groups=groups,
    )


def sample_of(entries: Iterable[ExecutorUsage]) -> Sample:
    return {(e.agent_id, e.executor_id): e for e in entries}


def cpu_percent(before: Figures | None, after: Figures | None) -> float | None:
    """Percent of one core used between two samples; None when they cannot be compared (a
    process new since the first, or no time between them). Never negative: a process that
    ended takes its seconds with it."""
    if before is None or after is None:
        return None
    elapsed = after.timestamp - before.timestamp
    if elapsed <= 0:
        return None
    return max(0.0, (after.cpu_secs - before.cpu_secs) / elapsed * 100.0)


@dataclass(frozen=True)
class TaskUsage:
    name: str
    environment: str
    role: str
    node: str
    cpu_percent: float | None
    rss_bytes: int | None
    cpu_limit: float
    mem_limit_bytes: int


def running(task: Task) -> bool:
    """Launched on an agent and not over: what has a process to measure."""
    status = task.status
    launched = bool(status.agent_id and status.executor_id)
    return launched and status.phase not in TERMINAL_PHASES


def task_usage(task: Task, before: Sample, after: Sample) -> TaskUsage:
    """One task's row: its process group's figures in its executor's entry, if given."""
    status, spec = task.status, task.spec
    key = (status.agent_id or "", status.executor_id or "")
    now, then = after.get(key), before.get(key)
    figures = None
    if now is not None and now.groups is not None and status.pid is not None:
        figures = now.groups.get(status.pid)
    earlier = None
    if then is not None and then.groups is not None and status.pid is not None:
        earlier = then.groups.get(status.pid)
    limits = spec.limits
    cpus = limits.cpus if limits is not None and limits.cpus is not None else spec.wants.cpus
    mem = limits.memory if limits is not None and limits.memory is not None else spec.wants.memory
    return TaskUsage(
        name=task.metadata.name,
        environment=spec.environment or "",
        role=spec.role,
        node=status.hostname or status.agent_id or "",
        cpu_percent=cpu_percent(earlier, figures),
        rss_bytes=figures.rss_bytes if figures is not None else None,
        cpu_limit=cpus,
        mem_limit_bytes=mem * MB,
    )


def sort_tasks(rows: Sequence[TaskUsage], *, by: str) -> list[TaskUsage]:
    """By name, or busiest first (`cpu`, `mem`); unknown figures last."""
    if by == "cpu":
        return sorted(rows, key=lambda r: (r.cpu_percent is None, -(r.cpu_percent or 0), r.name))
    if by == "mem":
        return sorted(rows, key=lambda r: (r.rss_bytes is None, -(r.rss_bytes or 0), r.name))
    return sorted(rows, key=lambda r: r.name)


@dataclass(frozen=True)
class Agent:
    """An agent from the master's state."""

    agent_id: str
    hostname: str
    cpus: float
    mem_bytes: int


@dataclass(frozen=True)
class NodeUsage:
    name: str
    agent_id: str
    cpu_cores: float | None
    rss_bytes: int
    cpus_limit: float
    mem_limit_bytes: int
    allocatable_cpus: float
    allocatable_mem_bytes: int

    @property
    def cpu_percent(self) -> float | None:
        if self.cpu_cores is None or not self.allocatable_cpus:
            return None
        return self.cpu_cores / self.allocatable_cpus * 100.0

    @property
    def mem_percent(self) -> float | None:
        if not self.allocatable_mem_bytes:
            return None
        return self.rss_bytes / self.allocatable_mem_bytes * 100.0


def node_usage(agent: Agent, nodes: Sequence[Node], before: Sample, after: Sample) -> NodeUsage:
    """The sum of the agent's executors; allocatable from its Node resource (the node
    controller's view), else from the master's."""
    mine = [e for e in after.values() if e.agent_id == agent.agent_id]
    rates = [cpu_percent(_figures_of(before, e), e.figures) for e in mine]
    known = [r for r in rates if r is not None]
    node = next((n for n in nodes if n.status.agent_id == agent.agent_id), None)
    cpus, mem = agent.cpus, agent.mem_bytes
    if node is not None:
        cpus = node.status.resources.total.cpus
        mem = node.status.resources.total.memory * MB
    return NodeUsage(
        name=node.metadata.name if node is not None else agent.hostname,
        agent_id=agent.agent_id,
        cpu_cores=sum(known) / 100.0 if known or not mine else None,
        rss_bytes=sum(e.figures.rss_bytes for e in mine),
        cpus_limit=sum(e.cpus_limit for e in mine),
        mem_limit_bytes=sum(e.mem_limit_bytes for e in mine),
        allocatable_cpus=cpus,
        allocatable_mem_bytes=mem,
    )


def _figures_of(sample: Sample, usage: ExecutorUsage) -> Figures | None:
    earlier = sample.get((usage.agent_id, usage.executor_id))
    return earlier.figures if earlier is not None else None


def agents_of(state: Mapping[str, Any]) -> list[Agent]:
    """The master's agents (`/master/state` `slaves`)."""
    agents = []
    for item in state.get("slaves", []):
        resources = item.get("resources") or {}
        agents.append(
            Agent(
                agent_id=str(item.get("id", "")),
                hostname=str(item.get("hostname", "")),
                cpus=float(resources.get("cpus", 0.0)),
                mem_bytes=int(float(resources.get("mem", 0.0)) * MB),
            )
        )
    return agents
