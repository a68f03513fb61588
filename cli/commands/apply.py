"""`o2 apply`: validate every document, then create or update each object (never its status)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from itertools import groupby
from typing import Annotated

import typer

from cli.envcheck import check_environments
from cli.manifests import kind_rank, load
from cli.options import GlobalOptions
from cli.runtime import connect, run, write_out
from crds.ownership import ConflictPolicy
from crds.resource import Resource
from store.api import Store
from store.apply import apply

HELP = """Create or update resources from YAML/JSON files, directories (recursive) or stdin.

Every document is validated first: if any is invalid, each problem is printed (file,
document, kind/name, field path) and nothing is written. An Environment's values of its
Workflow's public variables are checked against their declared type and allowed values
(`o2 describe workflow NAME` lists them). TaskClasses and Workflows are
applied before the Environments that use them. Only spec, labels and annotations are
written; status belongs to the controllers.

**Examples**

```
o2 apply -f manifests/samples/
o2 apply -f taskclasses.yaml -f physics-1.yaml
o2 get env physics-1 -o yaml | o2 apply -f -
o2 apply -f env.yaml --dry-run             # show what would change, write nothing
o2 apply -f env.yaml --force-conflicts     # take fields others changed since your last apply
```
"""


APPLY_IN_FLIGHT = 16
"""Objects of one kind applied concurrently (etcd's single-client rate grows with in-flight)."""


async def apply_objects(
    store: Store,
    objs: list[Resource],
    *,
    dry_run: bool,
    report: Callable[[str], None],
    policy: ConflictPolicy = "error",
) -> None:
    """Apply kind by kind in `objs` order (dependencies first), up to APPLY_IN_FLIGHT at once
    within a kind; `report` gets `kind/name created|configured|unchanged` in input order.
    `policy` says what becomes of fields another writer set (crds.ownership)."""
    suffix = " (dry run)" if dry_run else ""
    for _, group in groupby(objs, key=kind_rank):
        batch = list(group)
        for start in range(0, len(batch), APPLY_IN_FLIGHT):
            chunk = batch[start : start + APPLY_IN_FLIGHT]
            outcomes = await asyncio.gather(
                *(apply(store, o, dry_run=dry_run, policy=policy) for o in chunk),
                return_exceptions=True,
            )
            failed = [o for o in outcomes if isinstance(o, BaseException)]
            for obj, outcome in zip(chunk, outcomes, strict=True):
                if not isinstance(outcome, BaseException):
                    report(f"{obj.kind.lower()}/{obj.name} {outcome}{suffix}")
            if failed:
                raise failed[0]


def _print_line(line: str) -> None:
    write_out(line + "\n")


async def _apply(opts: GlobalOptions, *, files: list[str], dry_run: bool, force: bool) -> None:
    objs = load(files)
    policy: ConflictPolicy = "force" if force else "error"
    async with connect(opts) as store:
        await check_environments(store, objs)
        await apply_objects(store, objs, dry_run=dry_run, report=_print_line, policy=policy)


def apply_command(
    ctx: typer.Context,
    *,
    filename: Annotated[
        list[str],
        typer.Option("--filename", "-f", help="File, directory (recursive) or - for stdin."),
    ],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Validate and compare only; write nothing.")
    ] = False,
    force_conflicts: Annotated[
        bool,
        typer.Option(
            "--force-conflicts",
            help="Take fields the manifests name that another writer changed (see above).",
        ),
    ] = False,
) -> None:
    run(ctx, lambda opts: _apply(opts, files=filename, dry_run=dry_run, force=force_conflicts))


def register(app: typer.Typer) -> None:
    app.command("apply", help=HELP, short_help="Create or update resources from manifests.")(
        apply_command
    )
