"""Sample objects for GUI tests and screenshots. Pure constructors."""

from __future__ import annotations

from crds.kinds.common import Command
from crds.kinds.environment import Environment, EnvironmentSpec
from crds.kinds.task import Task, TaskSpec, TaskStatus
from crds.meta import ObjectMeta


def environment(name: str = "physics-1", *, state: str = "STANDBY") -> Environment:
    return Environment(
        metadata=ObjectMeta(name=name),
        spec=EnvironmentSpec(workflow="readout-dataflow", state=state),
    )


def task(
    name: str,
    *,
    env: str = "physics-1",
    role: str = "flp.readout",
    state: str | None = None,
    labels: dict[str, str] | None = None,
) -> Task:
    return Task(
        metadata=ObjectMeta(name=name, labels=labels or {}),
        spec=TaskSpec(
            environment=env, role=role, task_class="readout", command=Command(value="/bin/true")
        ),
        status=TaskStatus(state=state),
    )
