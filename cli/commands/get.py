"""`o2 get`: list resources as tables, names, JSON or YAML, and stream changes with -w."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from cli.jsonpath import check_template
from cli.selectors import complete_kind, modern_selector, parse_selector
from crds.errors import FieldError, ValidationError

if TYPE_CHECKING:
    from cli.options import GlobalOptions

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


class Output(StrEnum):
    table = "table"
    wide = "wide"
    json = "json"
    yaml = "yaml"
    name = "name"
    jsonpath = "jsonpath"


DOCUMENT_MODES = (Output.json, Output.yaml, Output.jsonpath)
"""Modes that print one document (an object or a List), never tables."""


@dataclass(frozen=True)
class Format:
    """A parsed `-o`: the mode, and the template of `-o jsonpath=TEMPLATE`."""

    mode: Output
    template: str = ""


def parse_output(text: str) -> Format:
    """`table|wide|json|yaml|name` or `jsonpath=TEMPLATE` (e.g. `jsonpath={.status.state}`)."""
    mode, _, template = text.partition("=")
    if mode == Output.jsonpath and template:
        return Format(Output.jsonpath, check_template(template))
    if mode in Output.__members__ and mode != Output.jsonpath and not template:
        return Format(Output(mode))
    raise ValidationError(
        [
            FieldError(
                path="-o",
                message=f"{text!r}: use table, wide, json, yaml, name or jsonpath=TEMPLATE",
            )
        ]
    )


def _selector(text: str | None) -> dict[str, str]:
    """`-l`, with deprecated o2 label keys renamed (and one warning line on stderr)."""
    selector, warning = modern_selector(parse_selector(text))
    if warning:
        from cli.runtime import warn

        warn(warning)
    return selector


def get_command(
    ctx: typer.Context,
    *,
    kind: Annotated[
        str,
        typer.Argument(help="Kind, plural, short name, or `all`.", autocompletion=complete_kind),
    ],
    names: Annotated[list[str] | None, typer.Argument(help="Object names.")] = None,
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
    from cli.listing import get_objects
    from cli.runs import check_arguments, get_runs
    from cli.runtime import run

    async def body(opts: GlobalOptions) -> None:
        more = watch or selector is not None
        if check_arguments(kind, names or [], env=env, detector=detector, more=more):
            await get_runs(opts, env=env, detector=detector, output=parse_output(output))
            return
        await get_objects(
            opts,
            kind=kind,
            names=list(names or []),
            output=parse_output(output),
            selector=_selector(selector),
            watch=watch,
        )

    run(ctx, body)


def register(app: typer.Typer) -> None:
    app.command("get", help=HELP, short_help="Show resources as tables, names, JSON or YAML.")(
        get_command
    )
