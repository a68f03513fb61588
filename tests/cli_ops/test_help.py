"""The operations commands teach themselves (summary, then examples) and are wired into `o2`."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from cli.main import app

COMMANDS = [
    ["deploy"],
    ["configure"],
    ["start"],
    ["stop"],
    ["reset"],
    ["recover"],
    ["exit"],
    ["logs"],
    ["cordon"],
    ["uncordon"],
    ["drain"],
    ["node", "mode"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_help_gives_a_summary_then_examples(command: list[str]) -> None:
    result = CliRunner().invoke(app, [*command, "--help"])
    assert result.exit_code == 0
    text = result.stdout
    assert "Examples" in text
    assert f"o2 {' '.join(command)}" in text.split("Examples", 1)[1]


def test_root_help_lists_the_operations_commands_and_gitops_sync() -> None:
    result = CliRunner().invoke(app, ["--help"])
    for command in ("deploy", "start", "stop", "recover", "logs", "drain", "node", "sync"):
        assert command in result.stdout


def test_logs_help_says_that_follow_polls() -> None:
    result = CliRunner().invoke(app, ["logs", "--help"])
    text = " ".join(result.stdout.split())  # as read, whatever the terminal width wrapped
    assert "no watch for files" in text
    assert "O2_MESOS" in text
