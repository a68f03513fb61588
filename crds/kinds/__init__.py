"""Every o2 kind, one module each; importing this package registers them all. Pure.

Import order is registration order, which is the order `all_kinds()` (and `o2 get all`) uses:
templates first, then live objects, then infrastructure, then events.
"""

# ruff: noqa: I001
from crds.kinds.taskclass import TaskClass
from crds.kinds.workflow import Workflow
from crds.kinds.environment import Environment
from crds.kinds.task import Task
from crds.kinds.node import Node
from crds.kinds.gitsource import GitSource
from crds.kinds.componentconfig import ComponentConfig
from crds.kinds.event import Event

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
