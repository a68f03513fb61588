"""The root command group, importing a command's module only when that command runs.

Every `o2` invocation used to import every command module (aiohttp for `logs`, the
AliECS translator for `convert`, the etcd client, all resource kinds): about a second
before any work. `--help` and shell completion of command names need only the names and
one-line summaries, which live in `COMMANDS` below (plain data: the completion of command
names reads it without typer); running `o2 get` imports the `get` module and what it needs,
nothing else; cli.lazygroup is the group that does so. `tests/cli/test_import_budget.py`
checks that this table says what the modules register.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class LazyCommand:
    """One top-level command: its name, the module whose `register(app)` adds it, and the
    summary `o2 --help` shows without importing that module."""

    name: str
    module: str
    summary: str


_STATE = "cli.commands.state"
_NODES = "cli.commands.nodes"
_PASS = "cli.commands.passthrough"
_LABEL = "cli.commands.label"

COMMANDS: tuple[LazyCommand, ...] = (
    LazyCommand("apply", "cli.commands.apply", "Create or update resources from manifests."),
    LazyCommand("get", "cli.commands.get", "Show resources as tables, names, JSON or YAML."),
    LazyCommand("describe", "cli.commands.describe", "Show objects in detail, with their Events."),
    LazyCommand("delete", "cli.commands.delete", "Delete objects (optionally wait until gone)."),
    LazyCommand("diff", "cli.commands.diff", "Diff manifests against what etcd holds."),
    LazyCommand("wait", "cli.commands.wait", "Wait for a condition on one object."),
    LazyCommand("edit", "cli.commands.edit", "Edit one object in $EDITOR (compare-and-swap)."),
    LazyCommand("patch", "cli.commands.patch", "Change part of one object (merge or JSON patch)."),
    LazyCommand("set", "cli.commands.setvars", "Change an Environment's variables live."),
    LazyCommand("deploy", _STATE, "Deploy an environment (-> DEPLOYED)."),
    LazyCommand("configure", _STATE, "Configure an environment (-> CONFIGURED)."),
    LazyCommand("start", _STATE, "Start a run (-> RUNNING)."),
    LazyCommand("stop", _STATE, "Stop the run (-> CONFIGURED)."),
    LazyCommand("reset", _STATE, "Reset an environment (-> DEPLOYED)."),
    LazyCommand("recover", _STATE, "Recover an environment from ERROR."),
    LazyCommand("exit", _STATE, "Exit an environment (-> DONE)."),
    LazyCommand("logs", "cli.commands.logs", "Print a task's stdout or stderr."),
    LazyCommand("top", "cli.commands.top", "Show CPU and memory use of tasks or nodes."),
    LazyCommand("cordon", _NODES, "Keep new tasks off a node."),
    LazyCommand("uncordon", _NODES, "Let tasks be placed on a node."),
    LazyCommand("drain", _NODES, "Cordon a node and deal with its tasks."),
    LazyCommand("sync", "cli.gitops", "Sync a GitSource now."),
    LazyCommand("controller", _PASS, "Run the controller manager (python -m controller ARGS)."),
    LazyCommand("cluster", _PASS, "Run the local Mesos cluster (python -m localmesos ARGS)."),
    LazyCommand("gui", _PASS, "Serve the live web dashboard (python -m gui ARGS)."),
    LazyCommand(
        "create",
        "cli.commands.create",
        "Create an object from a few flags (for manifests, use `o2 apply -f`).",
    ),
    LazyCommand("node", _NODES, "Node operations."),
    LazyCommand(
        "config",
        "cli.commands.config",
        "The configuration repository: component payloads per run type and role.",
    ),
    LazyCommand("etcd-auth", "cli.commands.etcdauth", "Least-privilege etcd users for o2."),
    LazyCommand("up", "cli.commands.up", "Run etcd, the local cluster and controllers here."),
    LazyCommand("label", _LABEL, "Set or remove labels of an object."),
    LazyCommand("annotate", _LABEL, "Set or remove annotations of an object."),
    LazyCommand("events", "cli.commands.events", "List Events, or stream them with -w."),
    LazyCommand("explain", "cli.commands.explain", "Document a kind's fields from its schema."),
    LazyCommand("version", "cli.commands.version", "Client, manager, etcd and Mesos versions."),
    LazyCommand(
        "convert",
        "cli.commands.convert",
        "Translate other systems' files into o2 manifests, offline (no cluster needed).",
    ),
)

BY_NAME = {command.name: command for command in COMMANDS}


def registered_by(module_name: str) -> dict[str, Any]:
    """The click commands `module_name.register(app)` adds, built the way the root app
    would build them (same markup mode, no pretty exceptions)."""
    import typer
    import typer.main

    app = typer.Typer(rich_markup_mode="markdown", pretty_exceptions_enable=False)
    importlib.import_module(module_name).register(app)
    group = typer.main.get_group(app)
    return dict(group.commands)
