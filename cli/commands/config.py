"""`o2 config`: the configuration repository (ComponentConfig) from the command line. Thin.

Views live in cli.config_printers (pure), reads and writes in cli.config_store; both use the
controllers' resolution and rendering code, so `o2 config show --render` prints exactly what a
task would receive. The root app wires it with `register(app)`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer

from cli.config_printers import (
    configs_table,
    history_header,
    history_table,
    kept_payload,
    rendered_payload,
    show_header,
    shown_version,
    slot_order,
    versions_diff,
)
from cli.config_store import check_import, import_config, list_configs, lookup, users_of
from cli.options import GlobalOptions
from cli.printers import json_text, output_document, yaml_text
from cli.runtime import connect, print_out, run, warn, write_out
from crds.configpayload import FORMATS, format_for
from crds.kinds.componentconfig import ANY_ROLE, ANY_RUN_TYPE, ComponentConfig, ComponentConfigSpec
from crds.meta import utcnow

config_app = typer.Typer(
    name="config",
    help=(
        "The configuration repository: component payloads per run type and role.\n\n"
        "A task asking for COMPONENT/ENTRY gets the most specific ComponentConfig: "
        "exact run type + role > ANY + role > run type + any > ANY + any.\n\n"
        "**Examples**\n\n"
        "```\n"
        "o2 config import readout main readout.ini --run-type PHYSICS\n"
        "o2 config list readout\n"
        "o2 config show readout main --run-type PHYSICS --role flp-TPC.readout\n"
        "o2 config show readout main --render --var detector=TPC\n"
        "o2 config history readout main\n"
        "o2 config diff readout main --from 1 --to 3\n"
        "```\n"
    ),
    rich_markup_mode="markdown",
    no_args_is_help=True,
)

ComponentArg = Annotated[str, typer.Argument(help="Component, e.g. readout.")]
EntryArg = Annotated[str, typer.Argument(help="Entry, e.g. main.")]
RunTypeOpt = Annotated[
    str, typer.Option("--run-type", "-r", help="Run type of the lookup (PHYSICS, ...).")
]
RoleOpt = Annotated[
    str, typer.Option("--role", "-l", help="Role path (flp-TPC.readout) or role name.")
]


def parse_vars(pairs: Sequence[str]) -> dict[str, object]:
    """`k=v` pairs as variables; a pair without '=' is an error naming it."""
    variables: dict[str, object] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise typer.BadParameter(f"{pair!r} is not NAME=VALUE", param_hint="--var")
        variables[name.strip()] = value
    return variables


@config_app.command("list")
def list_command(
    ctx: typer.Context,
    *,
    component: Annotated[str | None, typer.Argument(help="Only this component.")] = None,
    output: Annotated[str, typer.Option("--output", "-o", help="table, json or yaml.")] = "table",
) -> None:
    """List ComponentConfigs (optionally of one COMPONENT), with their current version.

    **Examples**

    ```
    o2 config list
    o2 config list readout -o yaml
    ```
    """

    async def body(opts: GlobalOptions) -> None:
        async with connect(opts) as store:
            configs = await list_configs(store, component)
        if output == "table":
            print_out(configs_table(configs))
            return
        ordered: list[ComponentConfig] = sorted(configs, key=slot_order)
        doc = output_document(ordered, single=False)
        write_out(json_text(doc) if output == "json" else yaml_text(doc))

    run(ctx, body)


@config_app.command("show")
def show_command(
    ctx: typer.Context,
    *,
    component: ComponentArg,
    entry: EntryArg,
    run_type: RunTypeOpt = ANY_RUN_TYPE,
    role: RoleOpt = ANY_ROLE,
    version: Annotated[
        int | None, typer.Option("--version", help="An older kept version (see history).")
    ] = None,
    do_render: Annotated[
        bool, typer.Option("--render", help="Evaluate {{ }} placeholders with --var values.")
    ] = False,
    var: Annotated[
        list[str] | None, typer.Option("--var", help="NAME=VALUE for --render (repeatable).")
    ] = None,
) -> None:
    """Print the payload a task of RUN-TYPE and ROLE receives for COMPONENT ENTRY.

    The payload goes to stdout unchanged; which config was chosen goes to stderr. With
    --render, placeholders are evaluated with the --var values, exactly as for a task.

    **Examples**

    ```
    o2 config show readout main --run-type PHYSICS --role flp-TPC.readout
    o2 config show readout main -r PHYSICS --render --var detector=TPC --var rate=200
    o2 config show readout main --version 3
    ```
    """
    variables = parse_vars(var or [])

    async def body(opts: GlobalOptions) -> None:
        async with connect(opts) as store:
            cc = await lookup(store, component, entry, run_type=run_type, role=role)
        wanted = shown_version(cc) if version is None else version
        data = kept_payload(cc, wanted)
        warn(show_header(cc, version=wanted, asked=version is not None))
        if do_render:
            data = rendered_payload(cc, data, version=wanted, variables=variables)
        write_out(data)

    run(ctx, body)


@config_app.command("import")
def import_command(
    ctx: typer.Context,
    *,
    component: ComponentArg,
    entry: EntryArg,
    file: Annotated[Path, typer.Argument(help="Payload file ('-' for stdin).", exists=False)],
    run_type: RunTypeOpt = ANY_RUN_TYPE,
    role: RoleOpt = ANY_ROLE,
    fmt: Annotated[
        str | None,
        typer.Option("--format", "-f", help="ini, json, yaml or text (default: from extension)."),
    ] = None,
    name: Annotated[str | None, typer.Option(help="Name for a new ComponentConfig.")] = None,
) -> None:
    """Create or update the ComponentConfig for COMPONENT/RUN-TYPE/ROLE/ENTRY from FILE.

    The format follows the extension (.ini/.cfg/.conf, .json, .yaml/.yml, else text) unless
    --format says otherwise; a payload that does not parse is refused, naming the line.

    **Examples**

    ```
    o2 config import readout main readout-physics.ini --run-type PHYSICS
    o2 config import qc main - --format yaml --role qc < qc.yaml
    ```
    """
    data = typer.get_text_stream("stdin").read() if str(file) == "-" else _read(file)
    spec = _import_spec(
        component, entry, run_type=run_type, role=role, fmt=fmt or format_for(file.name), data=data
    )

    async def body(opts: GlobalOptions) -> None:
        check_import(spec, source=str(file))
        async with connect(opts) as store:
            cc, what = await import_config(store, spec, name=name)
        write_out(f"componentconfig/{cc.metadata.name} {what}\n")

    run(ctx, body)


def _read(file: Path) -> str:
    try:
        return file.read_text()
    except OSError as exc:
        raise typer.BadParameter(f"cannot read {file}: {exc.strerror}", param_hint="FILE") from exc


def _import_spec(
    component: str, entry: str, *, run_type: str, role: str, fmt: str, data: str
) -> ComponentConfigSpec:
    """The slot and payload from the command line; bad values are usage errors (exit 2)."""
    if fmt not in FORMATS:
        raise typer.BadParameter(f"{fmt!r}: use one of {', '.join(FORMATS)}", param_hint="-f")
    try:
        return ComponentConfigSpec.model_validate(
            {
                "component": component,
                "entry": entry,
                "runType": run_type.upper(),
                "role": role,
                "format": fmt,
                "data": data,
            }
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc


@config_app.command("history")
def history_command(
    ctx: typer.Context,
    *,
    component: ComponentArg,
    entry: EntryArg,
    run_type: RunTypeOpt = ANY_RUN_TYPE,
    role: RoleOpt = ANY_ROLE,
) -> None:
    """The kept versions of the config a task of RUN-TYPE and ROLE gets (last 20).

    **Examples**

    ```
    o2 config history readout main --run-type PHYSICS
    ```
    """

    async def body(opts: GlobalOptions) -> None:
        async with connect(opts) as store:
            cc = await lookup(store, component, entry, run_type=run_type, role=role)
            used_by = await users_of(store, cc.metadata.name)
        warn(history_header(cc))
        print_out(history_table(cc, now=utcnow(), used_by=used_by))

    run(ctx, body)


@config_app.command("diff")
def diff_command(
    ctx: typer.Context,
    *,
    component: ComponentArg,
    entry: EntryArg,
    run_type: RunTypeOpt = ANY_RUN_TYPE,
    role: RoleOpt = ANY_ROLE,
    old: Annotated[
        int | None, typer.Option("--from", help="Older version (default: previous).")
    ] = None,
    new: Annotated[
        int | None, typer.Option("--to", help="Newer version (default: current).")
    ] = None,
) -> None:
    """Unified diff between two kept versions (default: the previous one and the current one).

    **Examples**

    ```
    o2 config diff readout main
    o2 config diff readout main --from 1 --to 3
    ```
    """

    async def body(opts: GlobalOptions) -> None:
        async with connect(opts) as store:
            cc = await lookup(store, component, entry, run_type=run_type, role=role)
        write_out(versions_diff(cc, old=old, new=new))

    run(ctx, body)


def register(app: typer.Typer) -> None:
    """Add the `o2 config` group to the root app."""
    app.add_typer(config_app, name="config")
