"""What `o2 describe` does once its arguments are parsed: read the objects and their Events and
print each kind's view. Kept apart from cli.commands.describe so that its help and completion
import none of this, and so that cli.entry runs it without typer."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import RenderableType

    from cli.options import GlobalOptions
    from crds.resource import Resource
    from store.api import Store


async def events_for(store: Store, obj: Resource) -> list[Mapping[str, Any]]:
    """The Events whose involvedObject is `obj`, oldest first (no Event kind: none)."""
    from cli.eventlist import EventFilter, read_events

    about = EventFilter(kind=obj.kind, name=obj.metadata.name, uid=obj.metadata.uid)
    return list((await read_events(store, about)).events)


async def view_of(store: Store, obj: Resource, *, now: datetime) -> RenderableType:
    """The kind's own view (Environment: role tree and transitions; Task: placement), or the
    generic one. Only the printers and kinds of `obj`'s kind are imported."""
    events = await events_for(store, obj)
    if obj.kind == "Environment":
        from cli.describe_printers import describe_environment
        from crds.kinds.environment import Environment
        from crds.kinds.task import Task

        assert isinstance(obj, Environment)
        listing = await store.list(Task)
        tasks = [t for t in listing.items if t.spec.environment == obj.metadata.name]
        return describe_environment(obj, tasks=tasks, events=events, now=now)
    if obj.kind == "Task":
        from cli.describe_printers import describe_task
        from crds.kinds.task import Task

        assert isinstance(obj, Task)
        return describe_task(obj, events=events, now=now)
    if obj.kind == "Workflow":
        from cli.workflow_printers import describe_workflow
        from crds.kinds.workflow import Workflow

        assert isinstance(obj, Workflow)
        return describe_workflow(obj, events=events, now=now)
    from cli.printers import describe

    return describe(obj, events=events, now=now)


async def describe_objects(opts: GlobalOptions, *, kind: str, names: list[str]) -> None:
    from rich.rule import Rule

    from cli.runtime import connect, print_out
    from cli.tableout import describe_now
    from crds.resource import kind_info

    info = kind_info(kind)
    async with connect(opts) as store:
        for i, name in enumerate(names):
            obj = await store.get(info.model, name)
            if i:
                print_out(Rule())
            print_out(await view_of(store, obj, now=describe_now()))
