"""`o2 create env`: an Environment from a Workflow and variables, as AliECS's GUI and `coconut
environment create` make them; public variables are type-checked before anything is written."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from cli.envcheck import workflow_of
from cli.getargs import parse_output
from cli.listing import print_objects
from cli.options import GlobalOptions
from cli.runtime import connect, run, write_out
from crds.errors import FieldError, ValidationError
from crds.kinds.environment import INFO, Environment
from crds.newenv import build_environment
from crds.publicvars import check_values
from store.api import Store

create_app = typer.Typer(
    name="create",
    help="Create an object from a few flags (for manifests, use `o2 apply -f`).",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)

ENV_HELP = """Create Environment NAME from Workflow W, with variables, in a desired state.

`--var NAME=VALUE` sets a variable (repeat it; all after the first `=` is the value, so
`--var detectors='["TPC","ITS"]'` and `--var 'flp-TPC.readout:rate=500'` (one role's
subtree, AliECS style) work). Values are text, as in AliECS: lists and maps are JSON,
booleans `true`/`false`. `--detectors TPC,ITS` is short for `--var detectors='["TPC","ITS"]'`.
The variables the workflow declares public (`o2 describe workflow W` lists them with their
type and allowed values) are checked here: a wrong value is an error naming the variable, the
expected type and the allowed values, and nothing is written. User variables take AliECS's
precedence: over everything the workflow and its task classes set.

The environment starts in STANDBY unless `--state` says otherwise (DEPLOYED, CONFIGURED,
RUNNING: the controller walks there); `o2 start|stop|...` move it later.

**Examples**

```
o2 create env physics-1 --workflow readout-dataflow --detectors TPC,ITS --state RUNNING
o2 create env tech-1 -w readout-dataflow --var detectors='["TPC"]' --var roc_ctp_emu_enabled=true
o2 create env physics-2 -w readout-dataflow --detectors TPC --dry-run -o yaml
```
"""


def parse_vars(pairs: list[str], *, detectors: str | None) -> dict[str, str]:
    """`NAME=VALUE` pairs (and `--detectors A,B`) as spec.vars; ValidationError naming the
    flag for a pair without `=` or a name given twice."""
    values: dict[str, str] = {}
    errors: list[FieldError] = []
    for pair in pairs:
        name, sep, value = pair.partition("=")
        name = name.strip()
        if not sep or not name:
            errors.append(FieldError(path="--var", message=f"{pair!r}: write NAME=VALUE"))
        elif name in values:
            errors.append(FieldError(path="--var", message=f"{name!r} is given twice"))
        else:
            values[name] = value
    if detectors is not None:
        if "detectors" in values:
            message = "give the detectors once: --detectors or --var detectors=..., not both"
            errors.append(FieldError(path="--detectors", message=message))
        names = [d.strip() for d in detectors.split(",") if d.strip()]
        values["detectors"] = json.dumps(names, separators=(",", ":"))
    if errors:
        raise ValidationError(errors)
    return values


async def checked(store: Store, env: Environment) -> Environment:
    """`env` once its Workflow exists and accepts its public variable values."""
    workflow = await workflow_of(store, env, pending={})
    if workflow is None:
        message = f"no Workflow {env.spec.workflow!r}: apply it first (`o2 get workflows`)"
        raise ValidationError([FieldError(path="--workflow", message=message)])
    errors = check_values(workflow, env.spec.vars, name=env.name)
    if errors:
        flagged = [
            FieldError(path=e.path.replace("spec.vars.", "--var ", 1), message=e.message)
            for e in errors
        ]
        raise ValidationError(flagged)
    return env


async def _create(
    opts: GlobalOptions, env: Environment, *, dry_run: bool, output: str | None
) -> None:
    async with connect(opts) as store:
        await checked(store, env)
        created = env if dry_run else await store.create(env)
    if output is not None:
        print_objects(INFO, [created], output=parse_output(output), single=True)
        return
    write_out(f"environment/{env.name} created{' (dry run)' if dry_run else ''}\n")


def create_env(
    ctx: typer.Context,
    *,
    name: Annotated[str, typer.Argument(help="Name of the new environment.")],
    workflow: Annotated[str, typer.Option("--workflow", "-w", help="The Workflow to expand.")],
    var: Annotated[
        list[str] | None,
        typer.Option("--var", help="NAME=VALUE (or role.path:NAME=VALUE); repeatable."),
    ] = None,
    detectors: Annotated[
        str | None, typer.Option(help="Comma-separated detectors: sets `detectors`.")
    ] = None,
    state: Annotated[
        str, typer.Option(help="Desired state: STANDBY, DEPLOYED, CONFIGURED or RUNNING.")
    ] = "STANDBY",
    run_type: Annotated[str, typer.Option(help="Run type (PHYSICS, TECHNICAL, ...).")] = "NONE",
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check everything; write nothing.")
    ] = False,
    output: Annotated[
        str | None, typer.Option("--output", "-o", help="Print the object: yaml, json or name.")
    ] = None,
) -> None:
    async def body(opts: GlobalOptions) -> None:
        variables = parse_vars(var or [], detectors=detectors)
        env = build_environment(
            name, workflow=workflow, variables=variables, state=state, run_type=run_type
        )
        await _create(opts, env, dry_run=dry_run, output=output)

    run(ctx, body)


create_app.command(
    "env", help=ENV_HELP, short_help="Create an environment from a workflow and variables."
)(create_env)
create_app.command("environment", help=ENV_HELP, hidden=True)(create_env)


def register(app: typer.Typer) -> None:
    """Add the `o2 create` group to the root app."""
    app.add_typer(create_app, name="create")
