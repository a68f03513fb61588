"""`o2 describe`: one object in full for people, with its Events last."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.completion import complete_name
from cli.selectors import complete_kind

HELP = """Show one or more objects in detail: metadata, spec, status, conditions, then Events.

**Examples**

```
o2 describe environment physics-1    # role tree, transitions with durations
o2 describe task physics-1-flp-tpc-readout   # placement, ports, pid, exit
o2 describe tc readout
o2 describe workflow readout-dataflow   # description, public variables to --var
```
"""


def describe_command(
    ctx: typer.Context,
    *,
    kind: Annotated[str, typer.Argument(help="Kind or short name.", autocompletion=complete_kind)],
    names: Annotated[list[str], typer.Argument(help="Object names.", autocompletion=complete_name)],
) -> None:
    from cli.describing import describe_objects
    from cli.runtime import run

    run(ctx, lambda opts: describe_objects(opts, kind=kind, names=names))


def register(app: typer.Typer) -> None:
    app.command("describe", help=HELP, short_help="Show objects in detail, with their Events.")(
        describe_command
    )
