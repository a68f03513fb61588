"""Small builders of Nodes, Tasks, Environments and the pilot TaskClass for the pure plan tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from controller.pilots.fit import pilot_name
from controller.pilots.settings import PilotSettings
from crds.kinds.common import Command, Constraint, Wants
from crds.kinds.environment import Environment, EnvironmentSpec, EnvironmentStatus
from crds.kinds.node import Node, NodeResources, NodeSpec, NodeStatus, ResourceAmounts
from crds.kinds.task import Task, TaskSpec, TaskStatus
from crds.kinds.taskclass import TaskClass, TaskClassSpec
from crds.labels import PILOT_LABEL
from crds.meta import Condition, ObjectMeta

T0 = datetime(2026, 1, 1, tzinfo=UTC)
SETTINGS = PilotSettings(cooldown=10, pending_age=1, max_reclaiming=1)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def node(name: str, *, mode: str = "sync", cpus: float = 1.0, **attrs: str) -> Node:
    status = NodeStatus(
        hostname=name,
        agent_id=f"agent-{name}",
        attributes=attrs,
        ready=True,
        resources=NodeResources(total=ResourceAmounts(cpus=cpus, memory=1024, ports=10)),
    )
    return Node(
        metadata=ObjectMeta(name=name, uid=f"uid-{name}", resource_version=1),
        spec=NodeSpec(mode=mode),
        status=status,
    )


def pilot_class(*, cpus: float = 0.5) -> TaskClass:
    return TaskClass(
        metadata=ObjectMeta(name="pilot"),
        spec=TaskClassSpec(
            command=Command(value="o2-sample-pilot"),
            control="basic",
            wants=Wants(cpus=cpus, memory=64),
            pilot=True,
        ),
    )


def env(name: str = "physics", *, reclaim: str = "Auto", state: str = "RUNNING") -> Environment:
    return Environment(
        metadata=ObjectMeta(name=name),
        spec=EnvironmentSpec(workflow="wf", state=state, reclaim=reclaim),
        status=EnvironmentStatus(state=state),
    )


def task(
    name: str,
    *,
    environment: str | None = "physics",
    cpus: float = 0.6,
    on: str | None = None,
    unschedulable_since: float | None = None,
    constraints: tuple[Constraint, ...] = (),
) -> Task:
    status = TaskStatus()
    if on is not None:
        status = TaskStatus(
            phase="Running", agent_id=f"agent-{on}", hostname=on, mesos_task_id=f"{name}.1"
        )
    elif unschedulable_since is not None:
        cond = Condition(
            type="Scheduled",
            status="False",
            reason="Unschedulable",
            message="insufficient cpus: wants 0.6, largest free 0.49",
            last_transition_time=at(unschedulable_since),
        )
        status = TaskStatus(conditions=(cond,))
    return Task(
        metadata=ObjectMeta(name=name),
        spec=TaskSpec(
            environment=environment,
            task_class="readout",
            command=Command(value="x"),
            control="basic",
            wants=Wants(cpus=cpus, memory=64),
            constraints=constraints,
        ),
        status=status,
    )


def pilot_on(
    node_name: str,
    *,
    phase: str = "Running",
    deleting: bool = False,
    uid: str = "",
    started: float | None = None,
    exit_code: int | None = None,
) -> Task:
    """A pilot Task; `uid` tells successive pilots of one node apart, `started` is its launch."""
    status = TaskStatus(
        phase=phase,
        agent_id=f"agent-{node_name}",
        hostname=node_name,
        mesos_task_id="p.1",
        started_at=None if started is None else at(started),
        exit_code=exit_code,
    )
    meta = ObjectMeta(
        name=pilot_name(node_name),
        uid=uid,
        labels={PILOT_LABEL: node_name},
        deletion_timestamp=at(0) if deleting else None,
    )
    return Task(
        metadata=meta,
        spec=TaskSpec(
            task_class="pilot",
            command=Command(value="o2-sample-pilot"),
            control="basic",
            wants=Wants(cpus=0.5, memory=64),
        ),
        status=status,
    )
