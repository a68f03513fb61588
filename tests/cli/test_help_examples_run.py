"""Every example in the help of `label`, `annotate`, `events`, `explain` and `version` runs
(in order, against a real etcd holding environment/physics-1) and exits 0; `-w` examples
stream forever and are run by tests/cli/test_events.py instead."""

from __future__ import annotations

import shlex

import pytest
from typer.testing import CliRunner

from cli.main import app
from tests.cli.conftest import O2
from tests.cli.test_read_commands import put_env

COMMANDS = ["label", "annotate", "events", "explain", "version"]


def examples(command: str) -> list[list[str]]:
    """The `o2 ...` lines of the command's help examples, as argv (comments dropped)."""
    text = CliRunner().invoke(app, [command, "--help"], env={"COLUMNS": "200"}).stdout
    block = text.split("Examples", 1)[1]
    found = []
    for raw in block.splitlines():
        line = raw.strip().strip("│").strip()
        if line.startswith(f"o2 {command}"):
            found.append(shlex.split(line.split("  #", 1)[0])[1:])
    return found


@pytest.mark.parametrize("command", COMMANDS)
def test_help_gives_a_summary_then_examples_that_run(o2: O2, command: str) -> None:
    put_env(o2, "physics-1")
    argvs = examples(command)
    assert len(argvs) >= 3
    for argv in argvs:
        if "-w" in argv:
            continue
        result = o2(*argv)
        assert result.exit_code == 0, f"o2 {shlex.join(argv)}: {result.stderr}"
