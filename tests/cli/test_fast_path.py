"""`o2 get` and `o2 describe` without typer (cli.entry) print what typer's path prints, byte for
byte, with the same exit code; any argument list the fast path does not read exactly goes to
typer; and the fast path imports no typer."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from cli.entry import fast_command, run_fast
from tests.cli.conftest import O2, REPO
from tests.cli.edit_helpers import with_samples
from tests.cli.test_import_budget import import_tree

Outcome = tuple[int, str, str]


def fast(o2: O2, argv: list[str], capsys: pytest.CaptureFixture[str]) -> Outcome:
    body = fast_command(argv)
    assert body is not None, argv
    code = run_fast(body)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def typer_path(o2: O2, argv: list[str]) -> Outcome:
    result = o2(*argv)
    return result.exit_code, result.stdout, result.stderr


SAME = [
    ["get", "env"],
    ["get", "envs", "physics-1", "-o", "yaml"],
    ["get", "tc", "-ojson"],
    ["get", "tasks", "--output=name"],
    ["get", "workflows", "--output", "wide"],
    ["get", "env", "physics-1", "-o", "jsonpath={.spec.workflow}"],
    ["get", "env", "-l", "o2.dev/none=x"],
    ["get", "env", "--selector=o2.role=x", "-o", "name"],
    ["get", "all"],
    ["get", "nope"],
    ["get", "env", "missing"],
    ["get", "env", "physics-1", "missing"],
    ["get", "env", "-o", "xml"],
    ["describe", "env", "physics-1"],
    ["describe", "tc", "readout", "qc"],
    ["describe", "env", "missing"],
]


@pytest.mark.parametrize("argv", SAME, ids=" ".join)
def test_the_fast_path_prints_what_typer_prints(
    o2: O2, argv: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with_samples(o2)
    for name, value in o2.env.items():
        monkeypatch.setenv(name, value)
    before = fast(o2, argv, capsys)
    typed = typer_path(o2, argv)
    after = fast(o2, argv, capsys)  # an AGE may tick between two runs: one of them matches
    assert typed in (before, after), (typed, before)
    assert typed[1] or typed[2]


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["get"],
        ["get", "env", "-w"],
        ["get", "env", "--watch"],
        ["get", "runs"],
        ["get", "env", "-o"],
        ["get", "env", "-o=json"],
        ["get", "env", "-o", "-w"],
        ["get", "env", "-o", "json", "-o", "yaml"],
        ["get", "env", "--", "x"],
        ["get", "env", "-h"],
        ["get", "--help"],
        ["get", "env", "--env", "x"],
        ["--etcd", "http://x", "get", "env"],
        ["-vv", "get", "env"],
        ["describe", "env"],
        ["describe", "env", "x", "-o", "yaml"],
        ["apply", "-f", "x"],
    ],
    ids=lambda argv: " ".join(argv) or "(none)",
)
def test_anything_else_goes_to_typer(argv: list[str]) -> None:
    assert fast_command(argv) is None


def test_completion_goes_to_typer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("_O2_COMPLETE", "bash_complete")
    assert fast_command(["get", "env"]) is None


def test_the_fast_path_imports_no_typer(o2: O2) -> None:
    roots = import_tree(["-c", "from cli.entry import main; main()", "get", "env"], o2.env)
    chains = [" -> ".join(c) for r in roots for c in r.walk() if c[-1].split(".")[0] == "typer"]
    assert not chains, "\n".join(chains)


def test_get_of_one_kind_builds_that_kind_only(o2: O2) -> None:
    """The store's key of a kind comes from the kind's own registration: listing Environments
    imports no other kind module (it imported all eight, ~0.3 s of model building). Kinds are
    imported with importlib, which `-X importtime` does not show: sys.modules is read at exit."""
    with_samples(o2)
    code = (
        "import atexit, sys\n"
        "atexit.register(lambda: print(*sorted(m for m in sys.modules"
        " if m.startswith('crds.kinds')), file=sys.stderr))\n"
        "from cli.entry import main\n"
        "main()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, "get", "env", "-o", "json"],  # a table needs no model
        env={**os.environ, **o2.env, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    kinds = set(done.stderr.split())
    assert kinds == {"crds.kinds", "crds.kinds.common", "crds.kinds.environment"}
