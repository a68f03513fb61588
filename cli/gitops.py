"""`o2 sync GITSOURCE` and `o2 diff gitsource NAME`: ask the GitSource controller, via etcd.

The CLI never runs git and never plans a sync itself: it sets a request annotation on the
GitSource (`o2.dev/sync-requested-at` or `o2.dev/diff-requested-at`, a fresh timestamp) and
watches the GitSource until the controller answers in status (`lastHandledSyncRequest`, or
`lastDiff.request`). So what `o2 diff gitsource` shows is computed by the same code, from the
same fetch, that a sync uses.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated

import typer

from cli.options import GlobalOptions
from cli.runtime import connect, run, write_out
from cli.waitfor import parse_timeout
from crds.conditions import get_condition
from crds.errors import CompactedError, ConflictError, O2Error
from crds.kinds.gitsource import (
    DiffResult,
    GitSource,
    PendingChange,
)
from crds.labels import DIFF_REQUESTED_AT, SYNC_REQUESTED_AT
from store.api import Store

SYNC_HELP = """Sync a GitSource now and show what it did: the commit applied and how many
objects were created, configured and pruned (or why nothing was applied).

The request goes through etcd: the GitSource controller (`o2 up` or `python -m controller`)
must be running. Exit status: 0 synced, 1 the sync failed or timed out.

**Examples**

```
o2 sync flp-manifests
o2 sync flp-manifests --timeout 2m
o2 sync flp-manifests --dry-run        # same as: o2 diff gitsource flp-manifests
```
"""

DIFF_HELP = """Show what a sync of a GitSource would change, without changing anything:
objects to create (+), configure (~, with the differing field paths), prune (-), and those
owned by another GitSource (!). Exit status: 0 no changes, 1 changes, 2 an error."""

SYNC_FAILED_EXIT = 1
DIFF_EXIT = 1
DIFF_ERROR_EXIT = 2
MARKS = {"create": "+", "configure": "~", "prune": "-", "conflict": "!"}


class GitOpsError(O2Error):
    """A sync or diff request was not answered, or was answered with an error."""


# ----- pure printers ------------------------------------------------------------------------


def change_line(change: PendingChange) -> str:
    """`~ environment/physics-1: spec.state` and the like."""
    ref = f"{change.kind.lower()}/{change.name}"
    detail = ", ".join(change.paths) if change.paths else change.message or change.action
    return f"{MARKS.get(change.action, '?')} {ref}: {detail}"


def sync_text(gs: GitSource) -> str:
    """What `o2 sync` prints once the controller answered."""
    status = gs.status
    name = f"gitsource/{gs.metadata.name}"
    summary = status.last_sync
    if summary is None:
        return f"{name}: {status.message}\n"
    lines = [
        f"{name} synced commit {summary.commit[:12]}: {summary.created} created, "
        f"{summary.configured} configured, {summary.pruned} pruned, "
        f"{summary.unchanged} unchanged",
        f"sync {status.sync}, health {status.health}",
    ]
    lines.extend(change_line(c) for c in status.pending)
    return "\n".join(lines) + "\n"


def diff_text(result: DiffResult) -> str:
    """What `o2 diff gitsource` prints: one line per change, nothing when in sync."""
    return "".join(change_line(c) + "\n" for c in result.changes)


def sync_error(gs: GitSource) -> str | None:
    """The failure the controller reported for the answered request, if any."""
    stalled = get_condition(gs.status.conditions, "Stalled")
    if stalled is not None and stalled.status == "True":
        return gs.status.message or stalled.message
    return None


# ----- requests through etcd ----------------------------------------------------------------


def request_value() -> str:
    """A fresh, ordered request id: the current UTC time with microseconds."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


async def request(store: Store, name: str, *, annotation: str, value: str) -> GitSource:
    """Set `annotation` to `value` on GitSource `name` (CAS, re-read on conflict)."""
    for _ in range(5):
        gs = await store.get(GitSource, name)
        if gs.spec.suspend:
            raise GitOpsError(
                f"gitsource/{name} is suspended: set spec.suspend to false to sync it"
            )
        annotations = {**gs.metadata.annotations, annotation: value}
        meta = gs.metadata.model_copy(update={"annotations": annotations})
        try:
            return await store.update(gs.model_copy(update={"metadata": meta}))
        except ConflictError:
            continue
    raise ConflictError("GitSource", name)


async def wait_answer(
    store: Store, sent: GitSource, *, answered: Callable[[GitSource], bool], within: float
) -> GitSource:
    """The GitSource once `answered` holds (watch-driven); GitOpsError after `within` s."""
    name = sent.metadata.name
    revision = sent.metadata.resource_version or 0
    current = sent
    try:
        async with asyncio.timeout(within):
            while not answered(current):
                try:
                    async for event in store.watch(GitSource, start_revision=revision + 1):
                        revision = event.revision
                        if event.name == name and event.obj is not None:
                            current = event.obj
                            if answered(current):
                                return current
                except CompactedError:
                    current = await store.get(GitSource, name)
                    revision = current.metadata.resource_version or 0
    except TimeoutError as exc:
        raise GitOpsError(
            f"gitsource/{name}: no answer from the GitSource controller within {within:g}s "
            "(is the controller manager running? `o2 up` starts one)"
        ) from exc
    return current


async def sync(store: Store, name: str, *, within: float) -> GitSource:
    """Ask for a sync of `name` and return the GitSource holding the controller's answer."""
    value = request_value()
    sent = await request(store, name, annotation=SYNC_REQUESTED_AT, value=value)
    return await wait_answer(
        store,
        sent,
        answered=lambda gs: gs.status.last_handled_sync_request == value,
        within=within,
    )


async def diff(store: Store, name: str, *, within: float) -> DiffResult:
    """Ask for a dry run of `name` and return the controller's answer."""
    value = request_value()
    sent = await request(store, name, annotation=DIFF_REQUESTED_AT, value=value)

    def answered(gs: GitSource) -> bool:
        return gs.status.last_diff is not None and gs.status.last_diff.request == value

    done = await wait_answer(store, sent, answered=answered, within=within)
    assert done.status.last_diff is not None
    return done.status.last_diff


# ----- commands -----------------------------------------------------------------------------


async def _sync(opts: GlobalOptions, *, name: str, within: float) -> None:
    async with connect(opts) as store:
        gs = await sync(store, name, within=within)
    error = sync_error(gs)
    if error is not None:
        raise GitOpsError(f"gitsource/{name}: {error}")
    write_out(sync_text(gs))


async def _diff(opts: GlobalOptions, *, name: str, within: float) -> bool:
    async with connect(opts) as store:
        result = await diff(store, name, within=within)
    if result.error:
        raise GitOpsError(f"gitsource/{name}: {result.error}")
    write_out(diff_text(result))
    return bool(result.changes)


def diff_gitsource(ctx: typer.Context, name: str, *, timeout: str = "60s") -> None:
    """`o2 diff gitsource NAME`: exits 1 when a sync would change something, 2 on error."""
    seconds = parse_timeout(timeout)
    if run(ctx, lambda opts: _diff(opts, name=name, within=seconds), error_exit=DIFF_ERROR_EXIT):
        raise typer.Exit(DIFF_EXIT)


def sync_command(
    ctx: typer.Context,
    *,
    name: Annotated[str, typer.Argument(help="The GitSource to sync.")],
    timeout: Annotated[
        str, typer.Option(help="How long to wait for the controller's answer: 30s, 2m.")
    ] = "60s",
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only show what a sync would change.")
    ] = False,
) -> None:
    if dry_run:
        diff_gitsource(ctx, name, timeout=timeout)
        return
    seconds = parse_timeout(timeout)
    run(ctx, lambda opts: _sync(opts, name=name, within=seconds), error_exit=SYNC_FAILED_EXIT)


def register(app: typer.Typer) -> None:
    app.command("sync", help=SYNC_HELP, short_help="Sync a GitSource now.")(sync_command)
