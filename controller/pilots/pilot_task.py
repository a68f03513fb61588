"""The pilot Task of an async node: owned by the Node, pinned to its hostname, labelled. Pure."""

from __future__ import annotations

from controller.pilots.fit import pilot_name
from crds.kinds.common import Constraint
from crds.kinds.node import Node
from crds.kinds.task import Task, TaskSpec
from crds.kinds.taskclass import TaskClass
from crds.labels import PILOT_LABEL
from crds.meta import ObjectMeta, OwnerReference


def pilot_task(node: Node, cls: TaskClass) -> Task:
    """The pilot Task of a node: owned by the Node, pinned to its hostname, labelled."""
    spec = cls.spec
    pin = Constraint(attribute="hostname", operator="EQUALS", value=node.status.hostname)
    command = spec.command.model_copy(
        update={"env": {**spec.command.env, "O2_PILOT_NODE": node.name}}
    )
    owner = OwnerReference(
        kind="Node",
        name=node.name,
        uid=node.metadata.uid,
        controller=True,
        block_owner_deletion=True,
    )
    meta = ObjectMeta(
        name=pilot_name(node.name),
        labels={PILOT_LABEL: node.name},
        owner_references=(owner,),
    )
    return Task(
        metadata=meta,
        spec=TaskSpec(
            task_class=cls.name,
            command=command,
            control=spec.control,
            wants=spec.wants,
            constraints=(*spec.constraints, pin),
            state="RUNNING",
            critical=False,
        ),
    )
