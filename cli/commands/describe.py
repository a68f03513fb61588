"""`o2 describe`: one object in full for people, with its Events last."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cli.selectors import complete_kind

if TYPE_CHECKING:
    from rich.console import RenderableType

    from cli.options import GlobalOptions
    from crds.resource import Resource
    from store.api import Store


HELP = """Show one or more objects in detail: metadata, spec, status, conditions, then Events.

**Examples**

```
o2 describe environment physics-1    # role tree, transitions with durations
o2 describe task physics-1-flp-tpc-readout   # placement, ports, pid, exit
o2 describe tc readout
o2 describe workflow readout-dataflow   # description, public variables to --var
```
"""


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


async def _describe(opts: GlobalOptions, *, kind: str, names: list[str]) -> None:
    from rich.rule import Rule

    from cli.runtime import connect, print_out
    from crds.resource import kind_info

    info = kind_info(kind)
    async with connect(opts) as store:
        for i, name in enumerate(names):
            obj = await store.get(info.model, name)
            if i:
                print_out(Rule())
            print_out(await view_of(store, obj, now=datetime.now(UTC)))


def describe_command(
    ctx: typer.Context,
    *,
    kind: Annotated[str, typer.Argument(help="Kind or short name.", autocompletion=complete_kind)],
    names: Annotated[list[str], typer.Argument(help="Object names.")],
) -> None:
    from cli.runtime import run

    run(ctx, lambda opts: _describe(opts, kind=kind, names=names))


def register(app: typer.Typer) -> None:
    app.command("describe", help=HELP, short_help="Show objects in detail, with their Events.")(
        describe_command
    )
