"""`o2 set var ENV k=v k2-` and `o2 set detectors ENV +MCH -ITS`: the live changes of an
Environment's variables, one CAS write each, with the diff printed."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperCommand

if TYPE_CHECKING:
    from cli.options import GlobalOptions
    from crds.kinds.environment import Environment
    from store.api import Store

SET_HELP = """Change an Environment's variables live.

`o2 set var ENV key=value key2-` sets and removes variables; `o2 set detectors ENV +MCH -ITS`
adds and removes detectors. Each is one compare-and-swap write, with the diff printed."""

VAR_HELP = """Set (`key=value`) or remove (`key-`) variables of ENV (its spec.vars, the
highest-precedence values); the controller applies the change to the running environment.

Values are text, as in AliECS (lists and maps as JSON); a Workflow's public variables are
checked against their declared type and allowed values first. One compare-and-swap write (read
again and retried if someone wrote in between); the unified diff is printed, then
`environment/ENV configured` (or `(no change)`).

**Examples**

```
o2 set var physics-1 rate=500
o2 set var physics-1 qc_replicas=2 rate-
o2 set var physics-1 'flp-TPC.readout:rate=300' --dry-run
```
"""

DETECTORS_HELP = """Change the detectors of ENV (the `detectors` variable, a JSON list such as
`["TPC","ITS"]`): `+NAME` adds, `-NAME` removes, bare names replace the whole list.

`-NAME` is read as a detector, not an option, with or without `--` before the names. One
compare-and-swap write; the unified diff is printed, then `environment/ENV configured` (or
`(no change)`). Removing a detector the list does not hold only warns.

**Examples**

```
o2 set detectors physics-1 +ITS
o2 set detectors physics-1 +MCH -ITS --dry-run
o2 set detectors physics-1 -- -MCH
o2 set detectors physics-1 TPC ITS
```
"""


class DashArguments(TyperCommand):
    """A command whose arguments may start with `-` (`-ITS`): what is not one of its own
    options is passed as an argument, as if given after `--`."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if "--" in args:
            return list(super().parse_args(ctx, args))
        names = {n for p in self.get_params(ctx) for n in (*p.opts, *p.secondary_opts)}
        own = [a for a in args if a in names or a.split("=", 1)[0] in names]
        rest = [a for a in args if a not in own]
        return list(super().parse_args(ctx, [*own, "--", *rest]))


def _vars_change(args: list[str]) -> Callable[[Environment], Environment]:
    from crds.varedits import vars_after

    def change(env: Environment) -> Environment:
        spec = env.spec.model_copy(update={"vars": vars_after(env.spec.vars, args)})
        return env.model_copy(update={"spec": spec})

    return change


def _detectors_change(args: list[str], *, unset: str) -> Callable[[Environment], Environment]:
    """The change `args` make; `unset` is the value an Environment that does not set
    `detectors` gets from its Workflow (the list `+X` and `-X` start from)."""
    from cli.runtime import warn
    from crds.newenv import DETECTORS_VARIABLE
    from crds.varedits import detectors_after, detectors_text, parse_detector_args, read_detectors

    edit = parse_detector_args(args)

    def change(env: Environment) -> Environment:
        current = read_detectors(env.spec.vars.get(DETECTORS_VARIABLE, unset))
        names, absent = detectors_after(current, edit)
        for name in absent:
            warn(f"warning: {name} is not among the detectors of environment/{env.name}")
        if names == current:
            return env
        values = {**env.spec.vars, DETECTORS_VARIABLE: detectors_text(names)}
        return env.model_copy(update={"spec": env.spec.model_copy(update={"vars": values})})

    return change


async def _workflow_detectors(store: Store, name: str) -> str:
    """What `detectors` is for ENV when its spec.vars leave it out: its Workflow's value."""
    from cli.envcheck import workflow_of
    from crds.kinds.environment import Environment
    from crds.newenv import DETECTORS_VARIABLE, workflow_value

    workflow = await workflow_of(store, await store.get(Environment, name), pending={})
    value = workflow_value(workflow, DETECTORS_VARIABLE) if workflow is not None else None
    return value or ""


async def _set(
    opts: GlobalOptions,
    *,
    name: str,
    vars_args: list[str] | None = None,
    detector_args: list[str] | None = None,
    dry_run: bool,
) -> None:
    from cli.modify import change_report, modify
    from cli.runtime import connect, write_out
    from crds.kinds.environment import Environment

    async with connect(opts) as store:
        if detector_args is not None:
            unset = await _workflow_detectors(store, name)
            change = _detectors_change(detector_args, unset=unset)
        else:
            change = _vars_change(vars_args or [])
        result = await modify(store, Environment, name, change=change, dry_run=dry_run)
    write_out(change_report(result, dry_run=dry_run, verb="configured"))


EnvArg = Annotated[str, typer.Argument(metavar="ENV", help="Environment name.")]
DryRun = Annotated[bool, typer.Option("--dry-run", help="Print the diff only; write nothing.")]


def var_command(
    ctx: typer.Context,
    name: EnvArg,
    assignments: Annotated[
        list[str], typer.Argument(metavar="KEY=VALUE|KEY-...", help="Set or remove variables.")
    ],
    *,
    dry_run: DryRun = False,
) -> None:
    from cli.runtime import run

    args = list(assignments)
    run(ctx, lambda opts: _set(opts, name=name, vars_args=args, dry_run=dry_run))


def detectors_command(
    ctx: typer.Context,
    name: EnvArg,
    detectors: Annotated[
        list[str], typer.Argument(metavar="+NAME|-NAME|NAME...", help="Add, remove or replace.")
    ],
    *,
    dry_run: DryRun = False,
) -> None:
    from cli.runtime import run

    args = list(detectors)
    run(ctx, lambda opts: _set(opts, name=name, detector_args=args, dry_run=dry_run))


def register(app: typer.Typer) -> None:
    group = typer.Typer(
        name="set", help=SET_HELP, no_args_is_help=True, rich_markup_mode="markdown"
    )
    group.command("var", help=VAR_HELP, short_help="Set or remove variables of an environment.")(
        var_command
    )
    group.command(
        "detectors",
        cls=DashArguments,
        help=DETECTORS_HELP,
        short_help="Add, remove or replace the detectors of an environment.",
    )(detectors_command)
    app.add_typer(group, name="set")
