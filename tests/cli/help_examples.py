"""The examples in the help of every `o2` command and subcommand, read from the commands
themselves (cli.lazy.COMMANDS, then each group's subcommands): what tests/cli/
test_help_examples_run.py runs, and the exemptions it allows, each with its reason."""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from typing import Any

from cli.lazy import COMMANDS, registered_by


def _walk(command: Any, path: tuple[str, ...]) -> Iterator[tuple[str, Any]]:
    yield " ".join(path), command
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        yield from _walk(sub, (*path, name))


def command_helps() -> dict[str, str]:
    """Every command path (`get`, `set var`, `config show`) and its help text, as written."""
    helps: dict[str, str] = {}
    for module in dict.fromkeys(c.module for c in COMMANDS):
        for name, command in registered_by(module).items():
            for path, sub in _walk(command, (name,)):
                helps.setdefault(path, sub.help or "")
    return helps


def example_lines(help_text: str) -> list[str]:
    """The command lines of the help's **Examples** block (an indented line, or one after a
    trailing backslash, continues the line before it, as a shell reads it)."""
    if "**Examples**" not in help_text:
        return []
    block = help_text.split("**Examples**", 1)[1].split("```")[1]
    lines: list[str] = []
    for line in block.strip("\n").splitlines():
        if lines and (line.startswith((" ", "\t")) or lines[-1].endswith("\\")):
            lines[-1] += "\n" + line
        else:
            lines.append(line)
    return lines


def all_examples() -> dict[str, str]:
    """Each distinct example line, with the first command path whose help shows it."""
    found: dict[str, str] = {}
    for path, text in command_helps().items():
        for line in example_lines(text):
            found.setdefault(line, path)
    return found


def argv(line: str) -> list[str]:
    """An example without shell syntax as o2's argv (comments dropped, `o2` removed)."""
    words = shlex.split(line, comments=True)
    assert words[0] == "o2", line
    return words[1:]


SHELL = ("|", "&&", "<")
"""Examples that need a shell (pipes, redirections): run through bash with `o2` on PATH."""


def needs_shell(line: str) -> bool:
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.commenters = "#"
    lexer.whitespace_split = True
    return any(token in SHELL for token in lexer)


NOT_RUN_HERE: dict[str, str] = {
    "streams": "streams until interrupted (tests/cli/test_watch.py, tests/cli/test_events.py)",
    "manager": "waits for the manager to reach the state (tests/cli_ops/test_state_commands.py)",
    "versions": "needs versions the ComponentConfig controller records (tests/configs)",
    "mesos": "reads a task's sandbox from a Mesos agent (tests/cli_ops/test_logs*.py)",
    "server": "runs servers in the foreground (tests/up, tests/cli_ops/test_help.py)",
    "auth": "turns on etcd authentication: the shared test etcd would refuse every other test",
    "node": "needs Nodes and tasks placed on them (tests/cli_ops/test_node_commands.py)",
    "gitops": "needs a GitSource synced by its controller (tests/gitops)",
    "aliecs": "needs a checkout of AliECS ControlWorkflows (tests/crds/test_aliecs_*.py)",
}
"""Why an example is not run by test_help_examples_run.py, and which tests run it instead."""

EXEMPT_COMMANDS = {
    "deploy": "manager",
    "logs": "mesos",
    "cordon": "node",
    "uncordon": "node",
    "drain": "node",
    "node mode": "node",
    "sync": "gitops",
    "controller": "server",
    "cluster": "server",
    "gui": "server",
    "up": "server",
    "up status": "server",
    "etcd-auth": "auth",
    "convert": "aliecs",
    "convert aliecs": "aliecs",
}
"""Command paths none of whose examples run here (the key into NOT_RUN_HERE)."""

EXEMPT_LINES = {
    "o2 diff gitsource farm-config": "gitops",
    "o2 wait env physics-1 --for=condition=Ready": "manager",
    "o2 wait env physics-1 --for=jsonpath='{.status.state}'=RUNNING --timeout 2m": "manager",
    "o2 config diff readout main --from 1 --to 3": "versions",
    "o2 config diff readout main": "versions",
    "o2 config show readout main --version 3": "versions",
}
"""Single examples not run here, by their text (the key into NOT_RUN_HERE)."""


def exemption(line: str, path: str) -> str | None:
    """The reason `line` (shown by `path`'s help) is not run here, or None: it must run."""
    words = line.split("  #", maxsplit=1)[0].split()
    if path in ("get", "events") and ("-w" in words or "--watch" in words):
        return NOT_RUN_HERE["streams"]
    key = EXEMPT_LINES.get(line.split("  #", maxsplit=1)[0].strip()) or EXEMPT_COMMANDS.get(path)
    return NOT_RUN_HERE[key] if key else None
