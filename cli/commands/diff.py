"""`o2 diff`: unified diff of spec/labels/annotations between etcd and manifests."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.manifests import load
from cli.options import GlobalOptions
from cli.printers import essence_diff
from cli.runtime import connect, run, write_out
from crds.errors import NotFoundError
from crds.resource import Resource
from store.api import Store

HELP = """Show what `o2 apply` would change: a unified diff of spec, labels and annotations
between what etcd holds (live/...) and the manifests (file/...).

Exit status: 0 no differences, 1 differences found, 2 (or more) an error.

**Examples**

```
o2 diff -f manifests/samples/
o2 diff -f env.yaml && echo in sync
```
"""

DIFF_EXIT = 1
ERROR_EXIT = 2


async def _live(store: Store, obj: Resource) -> Resource | None:
    try:
        return await store.get(type(obj), obj.name)
    except NotFoundError:
        return None


async def _diff(opts: GlobalOptions, *, files: list[str]) -> bool:
    objs = load(files)
    changed = False
    async with connect(opts) as store:
        for obj in objs:
            text = essence_diff(await _live(store, obj), obj)
            if text:
                changed = True
                write_out(text)
    return changed


def diff_command(
    ctx: typer.Context,
    *,
    filename: Annotated[
        list[str],
        typer.Option("--filename", "-f", help="File, directory (recursive) or - for stdin."),
    ],
) -> None:
    if run(ctx, lambda opts: _diff(opts, files=filename), error_exit=ERROR_EXIT):
        raise typer.Exit(DIFF_EXIT)


def register(app: typer.Typer) -> None:
    app.command("diff", help=HELP, short_help="Diff manifests against what etcd holds.")(
        diff_command
    )
