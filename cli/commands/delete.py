"""`o2 delete`: delete objects by name or by manifest; --wait until their keys are gone."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from cli.commands.wait import Seen, wait_until
from cli.completion import complete_name
from cli.manifests import load, ordered
from cli.options import GlobalOptions
from cli.runtime import connect, run, write_out
from cli.selectors import complete_kind
from cli.waitfor import Outcome, WaitFor, WaitTimeoutError, parse_timeout
from crds.errors import FieldError, NotFoundError, ValidationError
from crds.resource import KindInfo, kind_info
from store.api import Store

HELP = """Delete objects. Objects with finalizers are only marked (deletionTimestamp) until
their controllers remove the finalizers; --wait waits for that, up to --timeout.

**Examples**

```
o2 delete env physics-1
o2 delete env physics-1 --wait --timeout 2m
o2 delete -f manifests/samples/
o2 delete task a b c --ignore-not-found
```
"""

Target = tuple[KindInfo, str]


def _targets(kind: str | None, names: list[str], files: list[str]) -> list[Target]:
    if files:
        if kind or names:
            raise ValidationError(
                [FieldError(path="-f", message="give either KIND NAME... or -f, not both")]
            )
        return [(kind_info(o.kind), o.name) for o in ordered(load(files), reverse=True)]
    if not kind or not names:
        raise ValidationError(
            [FieldError(path="NAME", message="give KIND and at least one NAME, or -f FILE")]
        )
    info = kind_info(kind)
    return [(info, n) for n in names]


async def _delete_one(
    store: Store, target: Target, *, ignore_not_found: bool, missing: list[NotFoundError]
) -> bool:
    """Delete one object; an absent one is noted in `missing` (kubectl goes on with the rest)."""
    info, name = target
    ref = f"{info.singular}/{name}"
    try:
        marked = await store.delete(info.model, name)
    except NotFoundError as exc:
        if not ignore_not_found:
            missing.append(exc)
        return False
    if marked is not None and marked.metadata.finalizers:
        pending = ", ".join(marked.metadata.finalizers)
        write_out(f"{ref} marked for deletion (waiting for finalizers: {pending})\n")
    else:
        write_out(f"{ref} deleted\n")
    return True


async def _wait_gone(store: Store, targets: list[Target], *, within: float) -> None:
    gone = WaitFor("delete")
    for info, name in targets:
        seen = Seen(Outcome(False, "still present"))
        try:
            async with asyncio.timeout(within):
                await wait_until(store, info, name, wait_for=gone, seen=seen)
        except TimeoutError as exc:
            raise WaitTimeoutError(
                f"{info.singular}/{name}", wait_for=gone, seen=seen.outcome.seen, timeout=within
            ) from exc


async def _delete(
    opts: GlobalOptions,
    *,
    targets: list[Target],
    wait: bool,
    within: float,
    ignore_not_found: bool,
) -> None:
    async with connect(opts) as store:
        missing: list[NotFoundError] = []
        deleted = [
            t
            for t in targets
            if await _delete_one(store, t, ignore_not_found=ignore_not_found, missing=missing)
        ]
        if wait:
            await _wait_gone(store, deleted, within=within)
    if len(missing) == 1:
        raise missing[0]
    if missing:
        raise ValidationError([FieldError(path="", message=str(e)) for e in missing])


def delete_command(
    ctx: typer.Context,
    *,
    kind: Annotated[
        str | None, typer.Argument(help="Kind or short name.", autocompletion=complete_kind)
    ] = None,
    names: Annotated[
        list[str] | None, typer.Argument(help="Object names.", autocompletion=complete_name)
    ] = None,
    filename: Annotated[
        list[str] | None,
        typer.Option("--filename", "-f", help="Delete what these manifests declare."),
    ] = None,
    wait: Annotated[
        bool, typer.Option("--wait", help="Wait until the keys are gone (finalizers done).")
    ] = False,
    timeout: Annotated[str, typer.Option(help="How long --wait waits: 60s, 5m.")] = "60s",
    ignore_not_found: Annotated[
        bool, typer.Option("--ignore-not-found", help="Absent objects are not an error.")
    ] = False,
) -> None:
    run(
        ctx,
        lambda opts: _delete(
            opts,
            targets=_targets(kind, list(names or []), list(filename or [])),
            wait=wait,
            within=parse_timeout(timeout),
            ignore_not_found=ignore_not_found,
        ),
    )


def register(app: typer.Typer) -> None:
    app.command("delete", help=HELP, short_help="Delete objects (optionally wait until gone).")(
        delete_command
    )
