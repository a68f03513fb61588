"""Kubectl-style tables as plain text, for stdout when it is a pipe: what rich prints there,
without importing or running rich (100 rows: ~0.08 s less). Pure."""

from __future__ import annotations

from collections.abc import Sequence

from cli.tableout import column_widths

PLAIN_WIDTH = 400
"""The width of stdout when it is not a terminal (cli.runtime.stdout_console)."""


def plain_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    min_widths: Sequence[int] | None = None,
    show_header: bool = True,
) -> str | None:
    """`render_table` as printed to a pipe, without rich: the same bytes, ~10x cheaper (100
    rows: ~0.08 s less). None when rich would print the cells differently: markup (`[`),
    emoji codes (`:`), characters that are not printable ASCII (cell widths), or a table
    wider than a pipe's console; then rich renders it."""
    lines = [list(headers)] if show_header else []
    lines.extend(list(row) for row in rows)
    cells = [c for line in lines for c in line]
    if not lines or any(len(line) != len(headers) for line in lines):
        return None
    if not all(map(_plain, cells)):
        return None
    widths = column_widths(headers, rows)
    if min_widths:
        wanted = [*min_widths, *[0] * len(widths)][: len(widths)]
        widths = [max(w, m) for w, m in zip(widths, wanted, strict=True)]
    if sum(widths) + 3 * (len(widths) - 1) > PLAIN_WIDTH:
        return None
    text = []
    for line in lines:
        padded = [c.ljust(w) for c, w in zip(line, widths, strict=True)]
        text.append("   ".join(padded).rstrip() + "\n")
    return "".join(text)


def _plain(cell: str) -> bool:
    return cell.isascii() and cell.isprintable() and "[" not in cell and ":" not in cell
