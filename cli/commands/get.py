"""`o2 get`: list resources as tables, names, JSON or YAML, and stream changes with -w."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.completion import complete_name
from cli.selectors import complete_kind

HELP = """Show resources: a table with the kind's columns, or names, JSON or YAML.

KIND is a kind, plural, singular or short name (environments, env, tc, ...) or `all`.
Objects whose stored value cannot be read are reported on stderr with their etcd key;
the others are still listed and the exit code stays 0 (as kubectl does).

**Examples**

```
o2 get environments
o2 get env physics-1 -o yaml
o2 get env physics-1 -o jsonpath='{.status.state}'
o2 get tasks -o jsonpath='{.items[*].metadata.name}'
o2 get tasks -l o2.dev/environment=physics-1 -o wide
o2 get all
o2 get env -o json | o2 apply -f -       # round-trips as `unchanged`
o2 get tasks -w                          # then stream every change live
o2 get runs --env physics-1 --detector TPC   # finished runs, newest first (the run log)
```

`runs` is not a kind: it lists the run log the environment controller keeps in etcd (one
record per finished run, the newest `--run-log-size` of them), filtered with --env and
--detector.
"""


def get_command(
    ctx: typer.Context,
    *,
    kind: Annotated[
        str,
        typer.Argument(help="Kind, plural, short name, or `all`.", autocompletion=complete_kind),
    ],
    names: Annotated[
        list[str] | None, typer.Argument(help="Object names.", autocompletion=complete_name)
    ] = None,
    output: Annotated[
        str,
        typer.Option("--output", "-o", help="table, wide, json, yaml, name or jsonpath=TEMPLATE."),
    ] = "table",
    selector: Annotated[
        str | None, typer.Option("--selector", "-l", help="Label selector: k=v,k2=v2 (ANDed).")
    ] = None,
    watch: Annotated[
        bool, typer.Option("--watch", "-w", help="After listing, stream changes live.")
    ] = False,
    env: Annotated[
        str, typer.Option("--env", help="`o2 get runs`: only this environment's runs.")
    ] = "",
    detector: Annotated[
        str, typer.Option("--detector", help="`o2 get runs`: only runs with this detector.")
    ] = "",
) -> None:
    from cli.listing import get_command_body
    from cli.runtime import run

    run(
        ctx,
        lambda opts: get_command_body(
            opts,
            kind=kind,
            names=list(names or []),
            output=output,
            selector=selector,
            watch=watch,
            env=env,
            detector=detector,
        ),
    )


def register(app: typer.Typer) -> None:
    app.command("get", help=HELP, short_help="Show resources as tables, names, JSON or YAML.")(
        get_command
    )
