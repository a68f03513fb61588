"""Every o2 kind, one module each. Pure.

`from crds.kinds import Task` imports the Task module only: building the models of every
kind costs a CLI command more than its work, so each kind module is imported when first
named. `crds.resource.all_kinds()` imports them all and lists them in `KIND_MODULES` order:
templates first, then live objects, then infrastructure, then events.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from crds.kinds.componentconfig import ComponentConfig
    from crds.kinds.environment import Environment
    from crds.kinds.event import Event
    from crds.kinds.gitsource import GitSource
    from crds.kinds.node import Node
    from crds.kinds.task import Task
    from crds.kinds.taskclass import TaskClass
    from crds.kinds.workflow import Workflow

MODULE_OF = {
    "TaskClass": "crds.kinds.taskclass",
    "Workflow": "crds.kinds.workflow",
    "Environment": "crds.kinds.environment",
    "Task": "crds.kinds.task",
    "Node": "crds.kinds.node",
    "GitSource": "crds.kinds.gitsource",
    "ComponentConfig": "crds.kinds.componentconfig",
    "Event": "crds.kinds.event",
}
"""Each kind's model class and the module defining it."""

__all__ = [
    "ComponentConfig",
    "Environment",
    "Event",
    "GitSource",
    "Node",
    "Task",
    "TaskClass",
    "Workflow",
]


def __getattr__(name: str) -> Any:
    module = MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'crds.kinds' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
