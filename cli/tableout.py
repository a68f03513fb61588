"""Kubectl-style tables and plain text on stdout, and the short ages they show. Pure printing
helpers without the models, the etcd client or asyncio: the raw read path of `o2 get`
(cli.rawget) prints through them, as every other command does (via cli.printers and
cli.runtime, which re-export them)."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # rich is imported by what renders with it: tables to a pipe need none
    from rich.console import Console, RenderableType
    from rich.table import Table

NONE = "<none>"
NOW_ENV = "O2_TEST_NOW"
"""Test-only: pins the "now" of `o2 describe` (see describe_now)."""


def describe_now() -> datetime:
    """The instant `o2 describe` measures its ages from (AGE columns, "(3m ago)"): the wall
    clock. Test-only: $O2_TEST_NOW, an ISO 8601 time with its offset, pins it for the raw path
    (cli.rawdescribe) and the full path (cli.describing) alike, so a test can compare their
    bytes with no clock tick between the two; not meant for users (a malformed value raises)."""
    pinned = os.environ.get(NOW_ENV)
    return datetime.fromisoformat(pinned) if pinned else datetime.now(UTC)


def human_age(since: datetime | None, *, now: datetime) -> str:
    """kubectl's short human duration: 45s, 3m12s, 42m, 5h3m, 20h, 3d4h, 120d, 2y."""
    if since is None:
        return NONE
    seconds = max(0, int((now - since).total_seconds()))
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if seconds < 120:
        return f"{seconds}s"
    if minutes < 10:
        return f"{minutes}m{seconds % 60}s" if seconds % 60 else f"{minutes}m"
    if hours < 3:
        return f"{minutes}m"
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if days < 2:
        return f"{hours}h"
    if days < 8:
        return f"{days}d{hours % 24}h" if hours % 24 else f"{days}d"
    if days < 730:
        return f"{days}d"
    return f"{days // 365}y"


def column_widths(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[int]:
    """The width of each column: the widest of its header and cells."""
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row[: len(widths)]):
            widths[i] = max(widths[i], len(cell))
    return widths


def render_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    min_widths: Sequence[int] | None = None,
    show_header: bool = True,
) -> Table:
    """A borderless kubectl-style table; `min_widths` keeps later watch rows aligned."""
    from rich.table import Table

    table = Table(
        box=None,
        show_header=show_header,
        header_style="bold",
        pad_edge=False,
        padding=(0, 3, 0, 0),
        show_edge=False,
    )
    for i, header in enumerate(headers):
        width = min_widths[i] if min_widths and i < len(min_widths) else None
        table.add_column(header, min_width=width, no_wrap=True, overflow="ignore")
    for row in rows:
        table.add_row(*row)
    return table


def stdout_console() -> Console:
    """Tables for people; never wraps when piped (wide fixed width instead)."""
    from rich.console import Console

    if sys.stdout.isatty():
        return Console(file=sys.stdout, highlight=False)
    return Console(file=sys.stdout, highlight=False, width=400, no_color=True)


def stderr_console() -> Console:
    from rich.console import Console

    return Console(file=sys.stderr, highlight=False, stderr=True, width=200)


def write_out(text: str) -> None:
    """Machine-clean stdout (json, yaml, names): plain text, flushed at once."""
    sys.stdout.write(text)
    sys.stdout.flush()


def print_out(renderable: RenderableType) -> None:
    """A renderable on stdout, without the trailing blanks table padding leaves on lines."""
    console = stdout_console()
    with console.capture() as captured:
        console.print(renderable, soft_wrap=False)
    text = "\n".join(line.rstrip() for line in captured.get().split("\n"))
    console.file.write(text)
    console.file.flush()


def print_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    min_widths: Sequence[int] | None = None,
    show_header: bool = True,
) -> None:
    """A kubectl-style table on stdout: plain text to a pipe when that prints the same bytes
    (cli.printers.plain_table), else rendered by rich (terminals: bold header, widths)."""
    from cli.plaintable import plain_table

    text = None
    if not sys.stdout.isatty():
        text = plain_table(headers, rows, min_widths=min_widths, show_header=show_header)
    if text is None:
        table = render_table(headers, rows, min_widths=min_widths, show_header=show_header)
        print_out(table)
    else:
        write_out(text)
