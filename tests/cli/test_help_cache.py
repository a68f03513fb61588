"""`o2 --help` (cli.helpcache): the first run in given conditions is typer's, the next prints the
same bytes without importing typer; other conditions (width, colour variables) are typer's
own text again; a cache that cannot be written costs nothing but speed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.conftest import REPO
from tests.cli.test_import_budget import import_tree

ENTRY = "from cli.entry import main; main()"
TYPER = "from cli.main import app; app(prog_name='o2')"


def run(code: str, argv: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code, *argv],
        env={**os.environ, "PYTHONPATH": str(REPO), **env},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert not done.stderr, done.stderr
    return done.stdout


@pytest.mark.parametrize("argv", [["--help"], ["-h"]])
def test_the_cached_help_is_typers_help(tmp_path: Path, argv: list[str]) -> None:
    env = {"XDG_CACHE_HOME": str(tmp_path)}
    first = run(ENTRY, argv, env)
    assert first == run(TYPER, argv, env)
    assert "Commands" in first
    assert run(ENTRY, argv, env) == first
    roots = import_tree(["-c", ENTRY, *argv], env)
    chains = [" -> ".join(c) for r in roots for c in r.walk() if c[-1].split(".")[0] == "typer"]
    assert not chains, "\n".join(chains)


def test_other_conditions_get_typers_text_for_them(tmp_path: Path) -> None:
    env = {"XDG_CACHE_HOME": str(tmp_path)}
    narrow = run(ENTRY, ["--help"], env)
    assert run(ENTRY, ["--help"], env) == narrow
    for changed in ({"COLUMNS": "120"}, {"FORCE_COLOR": "1"}, {"TERMINAL_WIDTH": "60"}):
        wanted = run(TYPER, ["--help"], {**env, **changed})
        assert wanted != narrow, changed
        assert run(ENTRY, ["--help"], {**env, **changed}) == wanted, changed
        assert run(ENTRY, ["--help"], {**env, **changed}) == wanted, changed


def test_an_unwritable_cache_still_prints_the_help(tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    env = {"XDG_CACHE_HOME": str(blocked)}
    assert run(ENTRY, ["--help"], env) == run(TYPER, ["--help"], env)
    assert run(ENTRY, ["--help"], env) == run(TYPER, ["--help"], env)
