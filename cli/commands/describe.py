"""`o2 describe`: one object in full for people, with its Events last."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.rule import Rule

from cli.options import GlobalOptions
from cli.printers import describe, event_sort_key, involves
from cli.runtime import connect, print_out, run
from cli.selectors import complete_kind
from crds.errors import NotFoundError
from crds.resource import Resource, kind_info
from store.api import Store

HELP = """Show one or more objects in detail: metadata, spec, status, conditions, then Events.

**Examples**

```
o2 describe environment physics-1
o2 describe tc readout
```
"""


async def events_for(store: Store, obj: Resource) -> list[Mapping[str, Any]]:
    """The Events whose involvedObject is `obj`, oldest first (no Event kind: none)."""
    try:
        event_info = kind_info("Event")
    except NotFoundError:
        return []
    result = await store.list(event_info.model)
    wires = [e.to_wire() for e in result.items]
    return sorted((e for e in wires if involves(e, obj)), key=event_sort_key)


async def _describe(opts: GlobalOptions, *, kind: str, names: list[str]) -> None:
    info = kind_info(kind)
    async with connect(opts) as store:
        for i, name in enumerate(names):
            obj = await store.get(info.model, name)
            events = await events_for(store, obj)
            if i:
                print_out(Rule())
            print_out(describe(obj, events=events, now=datetime.now(UTC)))


def describe_command(
    ctx: typer.Context,
    *,
    kind: Annotated[str, typer.Argument(help="Kind or short name.", autocompletion=complete_kind)],
    names: Annotated[list[str], typer.Argument(help="Object names.")],
) -> None:
    run(ctx, lambda opts: _describe(opts, kind=kind, names=names))


def register(app: typer.Typer) -> None:
    app.command("describe", help=HELP, short_help="Show objects in detail, with their Events.")(
        describe_command
    )
