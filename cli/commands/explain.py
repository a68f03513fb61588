"""`o2 explain KIND[.field.path]`: field docs, types, enums and defaults from the kind's
generated schema (crds/schemas/<plural>.yaml, the file `python -m crds.schemagen` writes)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from cli.selectors import complete_kind

if TYPE_CHECKING:
    from cli.options import GlobalOptions

HELP = """Document a kind or one of its fields: type, description, then the fields below it
(with their types, first line of docs, enum values and defaults).

The path is the kind (any spelling) then wire field names, dot-separated; list items and map
values are looked through (`workflow.spec.roles.roles` is a role's sub-roles). Read from the
schemas generated from the models (crds/schemas); needs no etcd.

**Examples**

```
o2 explain environment
o2 explain env.spec.state
o2 explain task.status.phase
o2 explain workflow.spec.roles --recursive
o2 explain tc.spec.command
```
"""


def plural_of(kind: str) -> str:
    """The plural (the schema's file name) of any spelling of a kind, without importing the
    kind's module; an unknown kind is the same error `o2 get` gives."""
    from crds.kindnames import KIND_MODULES

    wanted = kind.strip().lower()
    for names in KIND_MODULES.values():
        if wanted in names:
            return names[1]
    from crds.resource import kind_info

    return kind_info(kind).plural  # raises NotFoundError listing the kinds


def load_schema(plural: str) -> dict[str, Any]:
    """The generated JSON schema of a kind, as packaged with crds."""
    from importlib.resources import files

    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    text = files("crds").joinpath("schemas", f"{plural}.yaml").read_text(encoding="utf-8")
    document: dict[str, Any] = yaml.load(text, Loader=loader)  # a safe loader
    return document


def explain(target: str, *, recursive: bool) -> str:
    from cli.explain import SchemaWalker, explain_text

    kind_name, *path = [p for p in target.split(".") if p] or [""]
    document = load_schema(plural_of(kind_name))
    walker = SchemaWalker(document)
    version = str(document.get("properties", {}).get("apiVersion", {}).get("default", ""))
    kind = str(document.get("title", kind_name))
    return explain_text(walker, kind=kind, version=version, path=path, recursive=recursive)


def explain_command(
    ctx: typer.Context,
    target: Annotated[
        str,
        typer.Argument(
            metavar="KIND[.FIELD.PATH]",
            help="A kind, or a field path under it.",
            autocompletion=complete_kind,
        ),
    ],
    *,
    recursive: Annotated[
        bool, typer.Option("--recursive", help="Print every field below, as a tree.")
    ] = False,
) -> None:
    from cli.runtime import run, write_out

    async def body(opts: GlobalOptions) -> None:
        del opts  # reads the packaged schemas only
        write_out(explain(target, recursive=recursive))

    run(ctx, body)


def register(app: typer.Typer) -> None:
    app.command("explain", help=HELP, short_help="Document a kind's fields from its schema.")(
        explain_command
    )
