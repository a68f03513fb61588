"""Every command teaches itself (summary, then examples) and KIND completes in the shell."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from cli.main import app
from tests.cli.conftest import REPO

COMMANDS = [
    "apply",
    "get",
    "describe",
    "delete",
    "diff",
    "wait",
    "up",
    "config",
    "sync",
    "logs",
    "start",
    "stop",
    "cordon",
    "etcd-auth",
    "convert",
]


@pytest.mark.parametrize("command", COMMANDS)
def test_help_gives_a_summary_then_examples(command: str) -> None:
    result = CliRunner().invoke(app, [command, "--help"])
    assert result.exit_code == 0
    text = result.stdout
    assert "Examples" in text
    assert f"o2 {command}" in text.split("Examples", 1)[1]


def test_root_help_lists_every_command_including_pass_throughs() -> None:
    result = CliRunner().invoke(app, ["--help"])
    for command in [*COMMANDS, "controller", "cluster"]:
        assert command in result.stdout
    for option in ("--etcd", "--prefix", "--cacert", "--cert", "--key", "--user", "--password"):
        assert option in result.stdout
    assert "O2_ETCD" in result.stdout


def test_shell_completion_offers_kind_names() -> None:
    env = {
        **os.environ,
        "_O2_COMPLETE": "complete_bash",
        "COMP_WORDS": "o2 get en",
        "COMP_CWORD": "2",
    }
    done = subprocess.run(
        [sys.executable, "-m", "cli.main"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert set(done.stdout.split()) == {"env", "environment", "environments", "envs"}


def test_pass_through_reports_a_missing_package() -> None:
    from cli.commands.passthrough import module_available

    assert module_available("cli")
    assert not module_available("no_such_o2_package")


@pytest.mark.parametrize(
    ("command", "option"), [("controller", "--mesos"), ("cluster", "--hollow-agents")]
)
def test_pass_through_commands_exec_the_package_with_its_own_help(
    command: str, option: str
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "cli.main", command, "--help"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert option in done.stdout
