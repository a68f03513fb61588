"""`o2 controller|cluster|gui ...`: exec `python -m controller|localmesos|gui` with the args.

The CLI never imports those packages (import-linter forbids it); it only finds and runs them.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import typer

from cli.runtime import options, warn

PASS_THROUGH = {
    "allow_extra_args": True,
    "ignore_unknown_options": True,
    "help_option_names": [],
}

CONTROLLER_HELP = """Run the controller manager in the foreground (= python -m controller).

Every argument is passed on; `o2 controller --help` shows the manager's own options. The
global --etcd/--prefix/TLS/auth settings reach it as O2_* environment variables.

**Examples**

```
o2 controller --etcd http://127.0.0.1:2379 --mesos 127.0.0.1:5050
o2 controller --metrics-port 9090 --id manager-b
```
"""

CLUSTER_HELP = """Run the local Mesos-compatible cluster in the foreground (= python -m localmesos).

Every argument is passed on; `o2 cluster --help` shows the cluster's own options.

**Examples**

```
o2 cluster --port 5050 --agents 2
o2 cluster --agents 1 --hollow-agents 50
```
"""


GUI_HELP = """Serve the live web dashboard in the foreground (= python -m gui).

Read-only unless started with --token-file (lines `name:token`, mode 600, each an admin);
every action is recorded as an Event naming who asked. --users-file gives per-user hashed
tokens with roles (`name:role:sha256:<hex>`; a viewer may not write, node operations are the
admins'). --trust-user-header is believed only from --trusted-proxy addresses (loopback).
--read-token-file makes reading need a token too. Binds 127.0.0.1 unless --listen says
otherwise, and answers only Host names 127.0.0.1, localhost, [::1] and --public-name ones (421
otherwise). At most --max-clients live pages (100; more get 503). Every argument is passed
on; `o2 gui --help` shows the server's own options.

**Examples**

```
o2 gui                                  # http://127.0.0.1:8080/
o2 gui --listen 127.0.0.1:9000 --token-file ~/.config/o2/gui-tokens
```
"""


def module_available(module: str) -> bool:
    """True when `python -m module` would run: the package and its __main__ exist (no import)."""
    # importlib.util.find_spec consults every finder (editable installs map packages through a
    # meta-path finder, not sys.path) without importing a top-level package.
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return False
    return any((Path(p) / "__main__.py").is_file() for p in spec.submodule_search_locations)


def module_command(module: str, args: list[str]) -> list[str]:
    return [sys.executable, "-m", module, *args]


def exec_module(ctx: typer.Context, module: str, args: list[str]) -> None:
    """Replace this process with `python -m module args...` (exit 1 with a reason if absent)."""
    if not module_available(module):
        warn(f"error: the {module} package is not installed in this o2 (no {module}/__main__.py)")
        raise typer.Exit(1)
    env = {**os.environ, **options(ctx).child_env()}
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, module_command(module, args), env)


def controller_command(ctx: typer.Context) -> None:
    exec_module(ctx, "controller", list(ctx.args))


def cluster_command(ctx: typer.Context) -> None:
    exec_module(ctx, "localmesos", list(ctx.args))


def gui_command(ctx: typer.Context) -> None:
    exec_module(ctx, "gui", list(ctx.args))


def register(app: typer.Typer) -> None:
    app.command(
        "controller",
        help=CONTROLLER_HELP,
        short_help="Run the controller manager (python -m controller ARGS).",
        context_settings=PASS_THROUGH,
    )(controller_command)
    app.command(
        "cluster",
        help=CLUSTER_HELP,
        short_help="Run the local Mesos cluster (python -m localmesos ARGS).",
        context_settings=PASS_THROUGH,
    )(cluster_command)
    app.command(
        "gui",
        help=GUI_HELP,
        short_help="Serve the live web dashboard (python -m gui ARGS).",
        context_settings=PASS_THROUGH,
    )(gui_command)
