"""`o2 diff`: unified diff of spec/labels/annotations between etcd and manifests."""

from __future__ import annotations

from typing import Annotated

import typer

from cli import gitops
from cli.manifests import load
from cli.options import GlobalOptions
from cli.printers import essence_diff
from cli.runtime import connect, run, warn, write_out
from crds.errors import NotFoundError
from crds.ownership import ConflictPolicy
from crds.resource import Resource, kind_info
from store.api import Store
from store.apply import applied_onto, owned_conflicts

HELP = """Show what `o2 apply` would change: a unified diff of spec, labels and annotations
between what etcd holds (live/...) and what an apply of the manifests would write (file/...),
under field ownership (`o2 apply --help`): fields other writers set and the manifest does not
name are not differences; conflicts are listed on stderr.

`o2 diff gitsource NAME` asks the GitSource controller what a sync of NAME would change (the
same fetch and plan a sync uses).

Exit status: 0 no differences, 1 differences found, 2 (or more) an error.

**Examples**

```
o2 diff -f manifests/samples/
o2 diff -f env.yaml && echo in sync
o2 diff gitsource farm-config
```
"""

DIFF_EXIT = 1
ERROR_EXIT = 2


async def _live(store: Store, obj: Resource) -> Resource | None:
    try:
        return await store.get(type(obj), obj.name)
    except NotFoundError:
        return None


async def _diff(opts: GlobalOptions, *, files: list[str], force: bool) -> bool:
    objs = load(files)
    changed = False
    async with connect(opts) as store:
        for obj in objs:
            live = await _live(store, obj)
            after = obj
            if live is not None:
                policy: ConflictPolicy = "force" if force else "keep"
                after = applied_onto(live, obj, policy=policy)
                conflicts = owned_conflicts(live, obj)
                if conflicts and not force:
                    warn(
                        f"{obj.ref}: conflict on {', '.join(conflicts)} (changed by another "
                        "writer; `o2 apply` refuses, --force-conflicts takes them)"
                    )
            text = essence_diff(live, after)
            if text:
                changed = True
                write_out(text)
    return changed


def diff_command(
    ctx: typer.Context,
    *,
    kind: Annotated[
        str | None, typer.Argument(help="`gitsource`, with NAME: diff a GitSource's sync.")
    ] = None,
    name: Annotated[str | None, typer.Argument(help="The GitSource's name.")] = None,
    filename: Annotated[
        list[str] | None,
        typer.Option("--filename", "-f", help="File, directory (recursive) or - for stdin."),
    ] = None,
    timeout: Annotated[
        str, typer.Option(help="gitsource: how long to wait for the controller's answer.")
    ] = "60s",
    force_conflicts: Annotated[
        bool,
        typer.Option("--force-conflicts", help="Diff as `o2 apply --force-conflicts` would."),
    ] = False,
) -> None:
    if kind is not None or name is not None:
        _diff_gitsource(ctx, kind=kind, name=name, files=filename, timeout=timeout)
        return
    if not filename:
        _usage(ctx, "give -f FILE (manifests), or `gitsource NAME`")
    files = list(filename or [])
    if run(
        ctx, lambda opts: _diff(opts, files=files, force=force_conflicts), error_exit=ERROR_EXIT
    ):
        raise typer.Exit(DIFF_EXIT)


def _diff_gitsource(
    ctx: typer.Context,
    *,
    kind: str | None,
    name: str | None,
    files: list[str] | None,
    timeout: str,
) -> None:
    if files:
        _usage(ctx, "give either -f FILE or `gitsource NAME`, not both")
    try:
        is_gitsource = kind is not None and kind_info(kind).kind == "GitSource"
    except NotFoundError:
        is_gitsource = False
    if not is_gitsource or not name:
        _usage(ctx, f"{kind!r}: only `o2 diff gitsource NAME` takes a kind and a name")
    assert name is not None
    gitops.diff_gitsource(ctx, name, timeout=timeout)


def _usage(ctx: typer.Context, message: str) -> None:
    raise typer.BadParameter(message, ctx=ctx)


def register(app: typer.Typer) -> None:
    app.command("diff", help=HELP, short_help="Diff manifests against what etcd holds.")(
        diff_command
    )
