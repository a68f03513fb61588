"""`o2 version`: this client's version, and what the servers run: the leading controller
manager (its record in etcd, store.versions), etcd, and the Mesos master. Each server part
is bounded in time and says `unreachable` instead of failing the command."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Annotated, Any

import typer

from store.versions import DEFAULT_MANAGER

if TYPE_CHECKING:
    from cli.options import GlobalOptions

HELP = """Print the client's version and Python; then the controller manager that leads (its
identity, o2 and Python versions, as it recorded them in etcd), the etcd server's version,
and the Mesos master's (`/version`). A server that does not answer within a few seconds is
shown as unreachable, with why; the exit code stays 0.

**Examples**

```
o2 version
o2 version --client
o2 version -o json
o2 version --mesos 127.0.0.1:5050 -o yaml
```
"""

SERVER_TIMEOUT = 3.0
"""Seconds each server (etcd, Mesos) gets to answer before it is called unreachable."""

Document = dict[str, Any]


def client_part() -> Document:
    from store.versions import package_version, python_version

    return {"version": package_version(), "python": python_version()}


def _unreachable(exc: BaseException) -> Document:
    from cli.runtime import short_cause

    return {"error": f"unreachable: {short_cause(str(exc)) or type(exc).__name__}"}


async def etcd_parts(opts: GlobalOptions, *, manager: str) -> tuple[Document, Document]:
    """The etcd server's version, and the leading manager's record (or why there is none)."""
    from dataclasses import asdict, replace

    from cli.runtime import store_config, warn
    from store.codec import lease_key
    from store.config import open_store
    from store.versions import ManagerRecord, manager_record_key

    config = replace(store_config(opts), retry_timeout=SERVER_TIMEOUT)
    store = await open_store(config, warn=warn)
    try:
        async with asyncio.timeout(SERVER_TIMEOUT):
            etcd = {"version": await store.server_version(), "endpoints": opts.endpoints}
            leader = await store.get_raw(lease_key(config.prefix, manager))
            raw = await store.get_raw(manager_record_key(config.prefix, manager))
    except Exception as exc:  # any failure to reach etcd: said, not raised
        unknown = {"name": manager, "error": "unknown: etcd unreachable"}
        return {**_unreachable(exc), "endpoints": opts.endpoints}, unknown
    finally:
        await store.close()
    if leader is None:
        return etcd, {"name": manager, "error": "no leader (is `o2 controller` running?)"}
    identity = leader.value.decode(errors="replace")
    record = ManagerRecord.from_bytes(raw.value) if raw is not None else None
    if record is None or record.identity != identity:
        return etcd, {"name": manager, "identity": identity, "error": "version not recorded"}
    return etcd, {"name": manager, **asdict(record)}


async def mesos_part(mesos: str) -> Document:
    from cli.mesos_files import MesosFiles, access_from_env
    from mesosapi.auth import base_url

    try:
        master = base_url(mesos.split(",", maxsplit=1)[0])
    except ValueError as exc:
        return {"master": mesos, "error": str(exc)}
    try:
        async with MesosFiles(master, timeout=SERVER_TIMEOUT, access=access_from_env()) as files:
            reply = await files.version()
    except Exception as exc:  # unreachable, refused, not Mesos: said, not raised
        return {"master": master, **_unreachable(exc)}
    return {"master": master, **reply}


async def server_part(opts: GlobalOptions, *, manager: str, mesos: str) -> Document:
    (etcd, leader), master = await asyncio.gather(
        etcd_parts(opts, manager=manager), mesos_part(mesos)
    )
    return {"manager": leader, "etcd": etcd, "mesos": master}


def version_lines(document: Document) -> list[str]:
    """The document for people, one line per component. Pure."""
    client = document["clientVersion"]
    lines = [f"Client Version:  {client['version']} ({client['python']})"]
    server = document.get("serverVersion")
    if server is None:
        return lines
    manager, etcd, mesos = server["manager"], server["etcd"], server["mesos"]
    if "error" in manager:
        who = f"{manager['identity']}: " if "identity" in manager else ""
        lines.append(f"Manager:         {who}{manager['error']}")
    else:
        lines.append(
            f"Manager:         {manager['version']} ({manager['python']}) "
            f"{manager['identity']}, leading {manager['name']} since {manager['since']}"
        )
    lines.append(f"etcd Version:    {etcd.get('version') or etcd.get('error')}")
    mesos_text = mesos.get("version") or mesos.get("error")
    lines.append(f"Mesos Version:   {mesos_text} ({mesos['master']})")
    return lines


def version_command(
    ctx: typer.Context,
    *,
    client: Annotated[
        bool, typer.Option("--client", help="Only the client's version: ask no server.")
    ] = False,
    output: Annotated[str, typer.Option("--output", "-o", help="json or yaml.")] = "",
    mesos: Annotated[
        str, typer.Option(envvar="O2_MESOS", help="Mesos master (HOST:PORT or URL).")
    ] = "http://127.0.0.1:5050",
    manager: Annotated[
        str, typer.Option(help="Lease name of the controller manager group.")
    ] = DEFAULT_MANAGER,
) -> None:
    from cli.runtime import run

    async def body(opts: GlobalOptions) -> None:
        from cli.printers import json_text, yaml_text
        from cli.runtime import write_out
        from crds.errors import FieldError, ValidationError

        if output not in ("", "json", "yaml"):
            message = f"{output!r}: use json or yaml (or leave -o out)"
            raise ValidationError([FieldError(path="-o", message=message)])
        document: Document = {"clientVersion": client_part()}
        if not client:
            document["serverVersion"] = await server_part(opts, manager=manager, mesos=mesos)
        if output == "json":
            write_out(json_text(document))
        elif output == "yaml":
            write_out(yaml_text(document))
        else:
            write_out("\n".join(version_lines(document)) + "\n")

    run(ctx, body)


def register(app: typer.Typer) -> None:
    app.command("version", help=HELP, short_help="Client, manager, etcd and Mesos versions.")(
        version_command
    )
