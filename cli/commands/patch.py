"""`o2 patch KIND NAME --type merge|json -p PATCH`: change part of one object, one CAS write."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from cli.completion import complete_name
from cli.selectors import complete_kind

if TYPE_CHECKING:
    from cli.options import GlobalOptions
    from crds.resource import Resource

R = TypeVar("R", bound="Resource")

HELP = """Change part of one object: a JSON merge patch (RFC 7386, the default) or a JSON patch
(RFC 6902: add, remove, replace, move, copy, test), applied to the object as `o2 get -o json`
shows it.

Only spec, labels and annotations can be patched; status belongs to the controllers and a patch
that touches it is refused. The patched object is validated as `o2 apply` validates a manifest,
then written with one compare-and-swap update (if someone wrote in between, the object is read
and patched again). The unified diff is printed, then `kind/name patched` (or `(no change)`).
A failing `test` operation writes nothing, so it works as a precondition.

**Examples**

```
o2 patch env physics-1 -p '{"spec": {"vars": {"rate": "500"}}}'
o2 patch env physics-1 --type json -p '[{"op": "replace", "path": "/spec/vars/rate", "value": "100"}]'
o2 patch env physics-1 --type json -p '[{"op":"test","path":"/spec/state","value":"RUNNING"},
  {"op":"add","path":"/metadata/labels/team","value":"tpc"}]'
o2 patch env physics-1 --dry-run -p '{"metadata": {"annotations": {"note": "ok"}}}'
o2 patch env physics-1 -p '{"spec": {"vars": {"rate": null}}}'
```
"""  # noqa: E501


class PatchType(StrEnum):
    merge = "merge"
    json = "json"


def patched(current: R, *, patch_type: PatchType, patch: Any) -> R:
    """`current` with the patch applied to its wire form (pure); refusals name the field."""
    from cli.jsonpatch import PATCHERS, patch_error, written_pointers
    from cli.modify import STATUS_REFUSED, from_document

    if patch_type == PatchType.json:
        if any(p == "/status" or p.startswith("/status/") for p in written_pointers(patch)):
            raise patch_error(STATUS_REFUSED)
    elif isinstance(patch, dict) and "status" in patch:
        raise patch_error(STATUS_REFUSED)
    document = PATCHERS[patch_type.value](current.to_wire(), patch)
    if not isinstance(document, dict):
        raise patch_error("the patch replaces the whole object with something else")
    return from_document(current, document, source="-p")


async def _patch(
    opts: GlobalOptions, *, kind: str, name: str, patch_type: PatchType, text: str, dry_run: bool
) -> None:
    from cli.jsonpatch import parse_patch
    from cli.modify import change_report, modify
    from cli.runtime import connect, write_out
    from crds.resource import kind_info

    model = kind_info(kind).model
    patch = parse_patch(text)
    async with connect(opts) as store:
        change = await modify(
            store,
            model,
            name,
            change=lambda current: patched(current, patch_type=patch_type, patch=patch),
            dry_run=dry_run,
        )
    write_out(change_report(change, dry_run=dry_run, verb="patched"))


def patch_command(
    ctx: typer.Context,
    *,
    kind: Annotated[
        str,
        typer.Argument(metavar="KIND", help="Kind or short name.", autocompletion=complete_kind),
    ],
    name: Annotated[
        str,
        typer.Argument(metavar="NAME", help="Object name.", autocompletion=complete_name),
    ],
    patch: Annotated[str, typer.Option("--patch", "-p", help="The patch, as JSON.")],
    patch_type: Annotated[
        PatchType, typer.Option("--type", help="merge (RFC 7386) or json (RFC 6902).")
    ] = PatchType.merge,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the diff only; write nothing.")
    ] = False,
) -> None:
    from cli.runtime import run

    run(
        ctx,
        lambda opts: _patch(
            opts, kind=kind, name=name, patch_type=patch_type, text=patch, dry_run=dry_run
        ),
    )


def register(app: typer.Typer) -> None:
    app.command("patch", help=HELP, short_help="Change part of one object (merge or JSON patch).")(
        patch_command
    )
