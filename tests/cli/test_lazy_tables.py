"""The tables that let `o2` answer `--help`, completion and `get KIND` without importing every
module say what those modules say: command names, summaries and order; kind spellings."""

from __future__ import annotations

import importlib

import pytest
from typer.testing import CliRunner

from cli.lazy import COMMANDS, registered_by
from cli.main import app
from crds.kindnames import KIND_MODULES, kind_spellings, plural_for
from crds.resource import all_kinds, kind_info


def test_every_command_in_the_table_is_what_its_module_registers() -> None:
    modules = dict.fromkeys(c.module for c in COMMANDS)
    registered = {m: registered_by(m) for m in modules}
    for command in COMMANDS:
        click_command = registered[command.module].get(command.name)
        assert click_command is not None, f"{command.module} registers no {command.name!r}"
        shown = click_command.short_help or click_command.help or ""
        first_paragraph = " ".join(shown.strip().split("\n\n")[0].split())
        assert first_paragraph == command.summary, command.name
    every = {name for commands in registered.values() for name in commands}
    assert every == {c.name for c in COMMANDS}, "a module registers a command the table lacks"


def test_help_and_suggestions_use_the_table() -> None:
    helped = CliRunner().invoke(app, ["--help"])
    assert helped.exit_code == 0
    listed = [c.name for c in COMMANDS]
    panel = helped.stdout.split("Commands", 1)[1]
    positions = [panel.index(f"\n│ {name} ") for name in listed]
    assert positions == sorted(positions), "commands listed out of the table's order"
    typo = CliRunner().invoke(app, ["descibe", "env", "x"])
    assert typo.exit_code == 2
    assert "Did you mean 'describe'?" in typo.output


def test_kind_spellings_agree_with_the_registered_kinds() -> None:
    infos = all_kinds()
    assert kind_spellings() == sorted({n for info in infos for n in info.names()})
    for module, names in KIND_MODULES.items():
        defined = [info for info in infos if info.model.__module__ == module]
        assert len(defined) == 1, module
        assert set(names) == set(defined[0].names()), module
        assert names[:2] == (defined[0].kind.lower(), defined[0].plural), module
        assert plural_for(names[-1].upper()) == defined[0].plural
    assert [info.model.__module__ for info in infos] == list(KIND_MODULES)


@pytest.mark.parametrize("spelling", kind_spellings())
def test_each_spelling_resolves_to_its_kind(spelling: str) -> None:
    info = kind_info(spelling)
    assert spelling in info.names()
    assert info.model is getattr(importlib.import_module("crds.kinds"), info.kind)
