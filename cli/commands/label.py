"""`o2 label` and `o2 annotate`: set or remove metadata keys of one object, in one CAS write."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

import typer

from cli.completion import complete_name
from cli.selectors import complete_kind

if TYPE_CHECKING:
    from cli.metaedit import Changes, Which
    from cli.options import GlobalOptions
    from crds.resource import Resource

LABEL_HELP = """Set or remove labels of one object: KEY=VALUE sets, KEY- removes.

Changing the value of a label the object already has needs --overwrite. Keys are
`[prefix/]name` (prefix a DNS subdomain, name at most 63 letters, digits, `-_.`); values are
empty or at most 63 such characters. Selected by `o2 get KIND -l KEY=VALUE`.

**Examples**

```
o2 label env physics-1 team=tpc shift=night
o2 label env physics-1 team=its --overwrite
o2 label env physics-1 shift-
o2 label env physics-1 team=mch --overwrite --dry-run
```
"""

ANNOTATE_HELP = """Set or remove annotations of one object: KEY=VALUE sets, KEY- removes.

Changing the value of an annotation the object already has needs --overwrite. Keys follow
the label key rules; values are free text.

**Examples**

```
o2 annotate env physics-1 shifter='Jane Doe'
o2 annotate env physics-1 shifter='John Doe' --overwrite
o2 annotate env physics-1 shifter-
```
"""

WORDS = {"labels": ("labeled", "label"), "annotations": ("annotated", "annotation")}


def _with(obj: Resource, which: Which, values: dict[str, str]) -> Resource:
    meta = obj.metadata.model_copy(update={which: values})
    return obj.model_copy(update={"metadata": meta})


async def edit_metadata(
    opts: GlobalOptions, *, kind: str, name: str, changes: Changes, overwrite: bool, dry_run: bool
) -> None:
    """Read, change, write back with the read resourceVersion (re-read on a conflict); the
    overwrite rule is checked against each fresh copy."""
    from cli.cas import update_spec
    from cli.metaedit import Outcome, apply_changes
    from cli.runtime import connect, warn, write_out
    from crds.resource import kind_info

    info = kind_info(kind)
    outcomes: list[tuple[Outcome, dict[str, str]]] = []

    def mutate(obj: Resource) -> Resource:
        before = getattr(obj.metadata, changes.which)
        outcome = apply_changes(before, changes, overwrite=overwrite)
        outcomes.append((outcome, dict(before)))
        return _with(obj, changes.which, outcome.values)

    async with connect(opts) as store:
        if dry_run:
            mutate(await store.get(info.model, name))
        else:
            await update_spec(store, info.model, name, mutate=mutate)
    outcome, before = outcomes[-1]
    done, noun = WORDS[changes.which]
    for key in outcome.missing:
        warn(f"{noun} {key!r} not found")
    word = done if outcome.changed(before) else f"not {done}"
    write_out(f"{info.singular}/{name} {word}{' (dry run)' if dry_run else ''}\n")


def _command(which: Which) -> Callable[..., None]:
    def command(
        ctx: typer.Context,
        kind: Annotated[
            str, typer.Argument(help="Kind or short name.", autocompletion=complete_kind)
        ],
        name: Annotated[str, typer.Argument(help="Object name.", autocompletion=complete_name)],
        changes: Annotated[
            list[str], typer.Argument(metavar="KEY=VALUE|KEY-...", help="Keys to set or remove.")
        ],
        *,
        overwrite: Annotated[
            bool, typer.Option("--overwrite", help="Allow changing the value of existing keys.")
        ] = False,
        dry_run: Annotated[
            bool, typer.Option("--dry-run", help="Say what would happen; write nothing.")
        ] = False,
    ) -> None:
        from cli.metaedit import parse_changes
        from cli.runtime import run

        run(
            ctx,
            lambda opts: edit_metadata(
                opts,
                kind=kind,
                name=name,
                changes=parse_changes(which, changes),
                overwrite=overwrite,
                dry_run=dry_run,
            ),
        )

    return command


def register(app: typer.Typer) -> None:
    app.command("label", help=LABEL_HELP, short_help="Set or remove labels of an object.")(
        _command("labels")
    )
    app.command(
        "annotate", help=ANNOTATE_HELP, short_help="Set or remove annotations of an object."
    )(_command("annotations"))
