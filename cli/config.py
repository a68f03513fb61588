"""`o2 config`: the configuration repository (ComponentConfig) from the command line. Edge I/O.

`show` runs the same resolution and rendering code as the controllers (crds.configresolve,
crds.configpayload on o2's one template sandbox, crds.templating, with the workflow helpers such
as `as_list` and `json`), so `o2 config show --render` prints exactly what a task would receive.
The lead wires it with `register(app)`.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import RenderableType

from cli.cas import update_spec
from cli.options import GlobalOptions
from cli.printers import human_age, json_text, output_document, render_table, yaml_text
from cli.runtime import connect, print_out, run, warn, write_out
from crds.conditions import get_condition
from crds.configpayload import FORMATS, check_format, check_payload, format_for, render
from crds.configresolve import (
    current_version,
    format_ref,
    is_recorded,
    parse_ref,
    payload_at,
    refs_of,
    render_config,
    resolve,
    run_type_rank,
    version_ref,
)
from crds.errors import ConfigError
from crds.kinds.componentconfig import ANY_ROLE, ANY_RUN_TYPE, ComponentConfig, ComponentConfigSpec
from crds.kinds.environment import Environment
from crds.meta import ObjectMeta, utcnow
from crds.names import join_label
from store.api import Store

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


# ---- pure printers ---------------------------------------------------------------------------


def _ready(cc: ComponentConfig) -> str:
    cond = get_condition(cc.status.conditions, "Ready")
    return "Unknown" if cond is None else cond.status


def configs_table(configs: Sequence[ComponentConfig]) -> RenderableType:
    headers = ["NAME", "COMPONENT", "RUN-TYPE", "ROLE", "ENTRY", "FORMAT", "VERSION", "READY"]
    # VERSION: the recorded version tasks receive; '+' when a newer payload is not recorded yet
    rows = [
        [
            cc.metadata.name,
            cc.spec.component,
            cc.spec.run_type,
            cc.spec.role,
            cc.spec.entry,
            cc.spec.format,
            str(cc.status.version) + ("" if is_recorded(cc) else "+"),
            _ready(cc),
        ]
        for cc in sorted(configs, key=_slot)
    ]
    return render_table(headers, rows)


def _slot(cc: ComponentConfig) -> tuple[str, str, str, str, str]:
    s = cc.spec
    return s.component, s.entry, s.run_type, s.role, cc.metadata.name


def history_table(
    cc: ComponentConfig, *, now: datetime, used_by: Mapping[int, Sequence[str]] | None = None
) -> RenderableType:
    """One row per kept version, oldest first; '*' marks the one tasks receive; USED-BY names
    the environments whose tasks were configured with it (status.configVersions)."""
    users = used_by or {}
    rows = [
        [
            f"{v.version}{' *' if v.version == cc.status.version else ''}",
            human_age(v.changed_at, now=now) if v.changed_at else "",
            str(v.generation),
            str(len(v.data.splitlines())),
            str(len(v.data)),
            ",".join(sorted(users.get(v.version, ()))),
        ]
        for v in cc.status.history
    ]
    if not is_recorded(cc):
        data = cc.spec.data
        rows.append(
            [
                f"{current_version(cc)}",
                "(not-recorded-yet)",
                str(cc.metadata.generation),
                str(len(data.splitlines())),
                str(len(data)),
                "",
            ]
        )
    headers = ["VERSION", "CHANGED", "GENERATION", "LINES", "BYTES", "USED-BY"]
    return render_table(headers, rows)


def users_by_version(name: str, envs: Sequence[Environment]) -> dict[int, list[str]]:
    """Which environments were configured with which version of config `name`."""
    users: dict[int, list[str]] = {}
    for env in envs:
        for value in env.status.config_versions.values():
            for ref in refs_of(value):
                ref_name, version = parse_ref(ref)
                if ref_name == name and version is not None:
                    users.setdefault(version, []).append(env.metadata.name)
    return users


def diff_text(cc: ComponentConfig, *, old: int, new: int) -> str:
    """A unified diff between two kept versions (KeyError when one is no longer kept)."""
    before = payload_at(cc, old).splitlines(keepends=True)
    after = payload_at(cc, new).splitlines(keepends=True)
    name = cc.metadata.name
    lines = difflib.unified_diff(
        before, after, fromfile=format_ref(name, old), tofile=format_ref(name, new)
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def parse_vars(pairs: Sequence[str]) -> dict[str, object]:
    """`k=v` pairs as variables; a pair without '=' is an error naming it."""
    variables: dict[str, object] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise typer.BadParameter(f"{pair!r} is not NAME=VALUE", param_hint="--var")
        variables[name.strip()] = value
    return variables


def import_name(component: str, entry: str, *, run_type: str, role: str) -> str:
    """The name `o2 config import` gives a new config: `<component>-<runtype>-<role>-<entry>`."""
    return join_label(component, run_type, role, entry)


# ---- store operations ------------------------------------------------------------------------


async def list_configs(store: Store, component: str | None = None) -> list[ComponentConfig]:
    items = (await store.list(ComponentConfig)).items
    return [cc for cc in items if component is None or cc.spec.component == component]


async def lookup(
    store: Store, component: str, entry: str, *, run_type: str, role: str
) -> ComponentConfig:
    """What a task of `run_type` and `role` would be given (ConfigNotFoundError otherwise)."""
    configs = await list_configs(store, component)
    return resolve(configs, component=component, entry=entry, run_type=run_type, role=role)


def find_slot(
    configs: Sequence[ComponentConfig], component: str, entry: str, *, run_type: str, role: str
) -> ComponentConfig | None:
    """The config stored for exactly this slot (no fallback), if any."""
    for cc in sorted(configs, key=lambda c: c.metadata.name):
        s = cc.spec
        same_run_type = run_type_rank(s.run_type, run_type) == 1
        if (s.component, s.entry, s.role) == (component, entry, role) and same_run_type:
            return cc
    return None


async def import_config(
    store: Store, spec: ComponentConfigSpec, *, name: str | None = None
) -> tuple[ComponentConfig, str]:
    """Create the config of `spec`'s slot or update its payload; (object, what happened)."""
    configs = await list_configs(store, spec.component)
    existing = find_slot(
        configs, spec.component, spec.entry, run_type=spec.run_type, role=spec.role
    )
    if existing is None:
        meta = ObjectMeta(
            name=name
            or import_name(spec.component, spec.entry, run_type=spec.run_type, role=spec.role)
        )
        return await store.create(ComponentConfig(metadata=meta, spec=spec)), "created"

    def mutate(cc: ComponentConfig) -> ComponentConfig:
        new_spec = cc.spec.model_copy(update={"data": spec.data, "format": spec.format})
        return cc.model_copy(update={"spec": new_spec})

    updated = await update_spec(store, ComponentConfig, existing.metadata.name, mutate=mutate)
    same = updated.metadata.generation == existing.metadata.generation
    return updated, "unchanged" if same else "configured"


def check_import(spec: ComponentConfigSpec, *, source: str) -> None:
    """Refuse a payload that cannot parse, as the controller would mark it not Ready."""
    check_payload(spec.format, spec.data, config=source)


# ---- commands --------------------------------------------------------------------------------


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
        ordered: list[ComponentConfig] = sorted(configs, key=_slot)
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
        try:
            data = payload_at(cc, wanted)
        except KeyError as exc:
            raise ConfigError(version_ref(cc), f"version {wanted} is not kept") from exc
        ref = f"componentconfig/{format_ref(cc.metadata.name, wanted)}"
        warn(f"# {ref} ({_where(cc)}){unrecorded_note(cc) if version is None else ''}")
        if do_render and cc.status.history and wanted == cc.status.version:
            data = render_config(cc, variables)  # the very function tasks get theirs from
        elif do_render:
            data = render(data, variables, config=ref)
            check_format(cc.spec.format, data, config=ref)
        write_out(data)

    run(ctx, body)


def shown_version(cc: ComponentConfig) -> int:
    """What `show` prints by default: the version tasks receive (the stored payload when the
    controller has recorded none yet)."""
    return cc.status.version if cc.status.history else current_version(cc)


def unrecorded_note(cc: ComponentConfig) -> str:
    if is_recorded(cc):
        return ""
    if cc.status.history:
        return (
            f"; spec holds a newer payload, version {current_version(cc)} once the controller "
            "records it: tasks receive this one until then"
        )
    return "; not recorded yet: tasks receive it once the controller records it"


def _where(cc: ComponentConfig) -> str:
    s = cc.spec
    return f"{s.component}/{s.run_type}/{s.role}/{s.entry}, {s.format}"


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
    chosen = fmt or format_for(file.name)
    if chosen not in FORMATS:
        raise typer.BadParameter(f"{chosen!r}: use one of {', '.join(FORMATS)}", param_hint="-f")
    try:
        spec = ComponentConfigSpec.model_validate(
            {
                "component": component,
                "entry": entry,
                "runType": run_type.upper(),
                "role": role,
                "format": chosen,
                "data": data,
            }
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc

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
            envs = (await store.list(Environment)).items
        warn(f"# componentconfig/{version_ref(cc)} ({_where(cc)})")
        used_by = users_by_version(cc.metadata.name, envs)
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
        to = current_version(cc) if new is None else new
        since = to - 1 if old is None else old
        if since < 1:
            raise ConfigError(
                f"componentconfig/{version_ref(cc)}", "only one version so far: nothing to diff"
            )
        try:
            text = diff_text(cc, old=since, new=to)
        except KeyError as exc:
            kept = ", ".join(str(v.version) for v in cc.status.history) or "none"
            raise ConfigError(
                f"componentconfig/{cc.metadata.name}",
                f"version {exc.args[0]} is not kept (kept: {kept})",
            ) from exc
        write_out(text)

    run(ctx, body)


def register(app: typer.Typer) -> None:
    """Add the `o2 config` group to the root app."""
    app.add_typer(config_app, name="config")
