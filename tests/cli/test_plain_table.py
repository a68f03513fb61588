"""Tables printed to a pipe without rich (cli.plaintable.plain_table) are byte for byte what rich
prints; cells rich would print differently fall back to rich."""

from __future__ import annotations

import random
import string

import pytest

from cli.plaintable import plain_table
from cli.printers import column_widths, render_table
from cli.runtime import print_out, print_table


def rich_text(
    capsys: pytest.CaptureFixture[str],
    headers: list[str],
    rows: list[list[str]],
    **kwargs: object,
) -> str:
    print_out(render_table(headers, rows, **kwargs))  # type: ignore[arg-type]
    return capsys.readouterr().out


def random_table(rng: random.Random) -> tuple[list[str], list[list[str]]]:
    alphabet = string.ascii_letters + string.digits + " -_./<>=,()'\"*%#@!"
    columns = rng.randint(1, 7)  # at most 7 * (40 + 5) + 6 * 3 = 333 wide: fits a pipe

    def cell() -> str:
        return "".join(rng.choice(alphabet) for _ in range(rng.choice([0, 1, 3, 8, 20, 40])))

    headers = [cell().upper() or "H" for _ in range(columns)]
    rows = [[cell() for _ in range(columns)] for _ in range(rng.randint(1, 12))]
    return headers, rows


@pytest.mark.parametrize("seed", range(60))
def test_plain_tables_are_what_rich_prints(seed: int, capsys: pytest.CaptureFixture[str]) -> None:
    rng = random.Random(seed)
    headers, rows = random_table(rng)
    widths = [w + rng.choice([0, 0, 5]) for w in column_widths(headers, rows)]
    for kwargs in ({}, {"min_widths": widths}, {"min_widths": widths, "show_header": False}):
        expected = rich_text(capsys, headers, rows, **kwargs)
        assert plain_table(headers, rows, **kwargs) == expected


@pytest.mark.parametrize(
    "cell", ["[bold]x", "a:smile:b", "ünïcode", "日本", "tab\there", "x" * 420]
)
def test_cells_rich_prints_differently_are_left_to_rich(
    cell: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert plain_table(["NAME", "MESSAGE"], [["a", cell]]) is None
    print_table(["NAME", "MESSAGE"], [["a", cell]])
    assert capsys.readouterr().out == rich_text(capsys, ["NAME", "MESSAGE"], [["a", cell]])
