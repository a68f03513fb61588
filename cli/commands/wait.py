"""`o2 wait`: block until a condition or JSONPath value holds, driven by an etcd watch."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Annotated, Any

import typer

from cli.completion import complete_name
from cli.options import GlobalOptions
from cli.runtime import connect, run, write_out
from cli.selectors import complete_kind
from cli.waitfor import Outcome, WaitFor, WaitTimeoutError, parse_timeout, parse_wait_for
from crds.errors import CompactedError, NotFoundError
from crds.resource import KindInfo, kind_info
from store.api import Store

HELP = """Wait until an object reaches a condition or a field value (watch-driven, no polling).

Exits 0 when it holds, 1 on timeout with what was seen last. --timeout 0 checks once.

**Examples**

```
o2 wait env physics-1 --for=condition=Ready
o2 wait env physics-1 --for=jsonpath='{.status.state}'=RUNNING --timeout 2m
o2 wait task readout-0 --for=delete
```
"""


@dataclass
class Seen:
    """The last observation, shared with the timeout message."""

    outcome: Outcome


async def _current(store: Store, info: KindInfo, name: str) -> tuple[dict[str, Any] | None, int]:
    """The object's JSON (None if absent) and the revision to watch from."""
    try:
        obj = await store.get(info.model, name)
    except NotFoundError:
        # Absent: the listing's revision is where a later create will show up.
        listing = await store.list(info.model)
        return None, listing.revision
    return obj.to_wire(), obj.metadata.resource_version or 0


async def wait_until(
    store: Store, info: KindInfo, name: str, *, wait_for: WaitFor, seen: Seen
) -> None:
    """Return once `wait_for` holds for `name`; `seen` tracks the last observation."""
    document, revision = await _current(store, info, name)
    seen.outcome = wait_for.check(document)
    while not seen.outcome.done:
        try:
            async for event in store.watch(info.model, start_revision=revision + 1):
                revision = event.revision
                if event.name != name:
                    continue
                if event.type == "UNREADABLE":
                    seen.outcome = Outcome(False, f"unreadable value at {event.key}")
                    continue
                doc = None if event.type == "DELETED" or event.obj is None else event.obj
                seen.outcome = wait_for.check(doc.to_wire() if doc is not None else None)
                if seen.outcome.done:
                    return
        except CompactedError:
            document, revision = await _current(store, info, name)
            seen.outcome = wait_for.check(document)


async def _wait_one(
    store: Store, info: KindInfo, name: str, *, wait_for: WaitFor, seen: Seen, check_once: bool
) -> None:
    if check_once:
        document, _ = await _current(store, info, name)
        seen.outcome = wait_for.check(document)
    else:
        await wait_until(store, info, name, wait_for=wait_for, seen=seen)


async def _wait(
    opts: GlobalOptions, *, kind: str, names: list[str], wait_for: WaitFor, within: float
) -> None:
    """All `names` must satisfy `wait_for` within one overall timeout (as kubectl)."""
    info = kind_info(kind)
    async with connect(opts) as store:
        deadline = asyncio.get_running_loop().time() + within
        for name in names:
            ref = f"{info.singular}/{name}"
            seen = Seen(Outcome(False, "nothing yet"))
            try:
                async with asyncio.timeout_at(deadline if within > 0 else None):
                    await _wait_one(
                        store, info, name, wait_for=wait_for, seen=seen, check_once=within == 0
                    )
            except TimeoutError as exc:
                raise WaitTimeoutError(
                    ref, wait_for=wait_for, seen=seen.outcome.seen, timeout=within
                ) from exc
            if not seen.outcome.done:
                raise WaitTimeoutError(ref, wait_for=wait_for, seen=seen.outcome.seen, timeout=0)
            write_out(f"{ref} condition met\n")


def wait_command(
    ctx: typer.Context,
    *,
    kind: Annotated[str, typer.Argument(help="Kind or short name.", autocompletion=complete_kind)],
    names: Annotated[
        list[str],
        typer.Argument(help="Object names (all must hold).", autocompletion=complete_name),
    ],
    for_: Annotated[
        str,
        typer.Option(
            "--for",
            help="condition=NAME[=VALUE] | jsonpath='{.path}'[=VALUE] | delete",
        ),
    ],
    timeout: Annotated[
        str, typer.Option(help="How long to wait: 30s, 2m; 0 checks once; <0 a week.")
    ] = "30s",
) -> None:
    run(
        ctx,
        lambda opts: _wait(
            opts,
            kind=kind,
            names=names,
            wait_for=parse_wait_for(for_),
            within=parse_timeout(timeout),
        ),
    )


def register(app: typer.Typer) -> None:
    app.command("wait", help=HELP, short_help="Wait for a condition on one object.")(wait_command)
