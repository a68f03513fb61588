"""The `o2` command tree and its global options; commands live in cli.commands.*."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from cli.lazygroup import LazyGroup
from cli.options import DEFAULT_ETCD, DEFAULT_PREFIX, ENV_VARS, GlobalOptions, setup_logging

app = typer.Typer(
    name="o2",
    cls=LazyGroup,
    help=(
        "o2: long-lived processes on Mesos, declared as resources in etcd.\n\n"
        "**Examples**\n\n"
        "```\n"
        "o2 up                                  # etcd, local cluster, controllers\n"
        "o2 apply -f manifests/samples/\n"
        "o2 get environments -w\n"
        "o2 wait env physics-1 --for=condition=Ready\n"
        "```\n"
    ),
    epilog=(
        "**Exit codes**: 0 done; 1 the command failed (why on stderr: not found, invalid, "
        "conflict, etcd unreachable, a state not reached); 2 wrong usage (unknown command or "
        "option, missing argument); `o2 diff`: 1 means differences, 2 an error; 130 "
        "interrupted. Errors go to stderr, never with a traceback unless -vv. "
        "`-o json|yaml|name` print only the documents or names on stdout."
    ),
    rich_markup_mode="markdown",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def root(
    ctx: typer.Context,
    *,
    etcd: Annotated[
        str,
        typer.Option(
            envvar=ENV_VARS["etcd"],
            help="etcd endpoints, comma-separated (failover in order).",
            show_default=True,
        ),
    ] = DEFAULT_ETCD,
    prefix: Annotated[
        str, typer.Option(envvar=ENV_VARS["prefix"], help="Key prefix of this o2 installation.")
    ] = DEFAULT_PREFIX,
    cacert: Annotated[
        str | None, typer.Option(envvar=ENV_VARS["cacert"], help="CA bundle to verify etcd (TLS).")
    ] = None,
    cert: Annotated[
        str | None, typer.Option(envvar=ENV_VARS["cert"], help="Client certificate (TLS).")
    ] = None,
    key: Annotated[
        str | None, typer.Option(envvar=ENV_VARS["key"], help="Client private key (TLS).")
    ] = None,
    user: Annotated[
        str | None, typer.Option(envvar=ENV_VARS["user"], help="etcd user name.")
    ] = None,
    password: Annotated[
        str | None, typer.Option(hidden=True, help="Refused: see --password-file.")
    ] = None,
    password_file: Annotated[
        Path | None,
        typer.Option(
            help=f"File holding the etcd password (mode 600); or ${ENV_VARS['password']}.",
            show_default=False,
        ),
    ] = None,
    verbose: Annotated[
        int, typer.Option("--verbose", "-v", count=True, help="More logs on stderr (-vv: debug).")
    ] = 0,
) -> None:
    """o2: long-lived processes on Mesos, declared as resources in etcd."""
    setup_logging(verbose)
    if password is not None:
        raise typer.BadParameter(PASSWORD_REFUSED, param_hint="'--password'")
    ctx.obj = GlobalOptions(
        etcd=etcd,
        prefix=prefix,
        cacert=cacert,
        cert=cert,
        key=key,
        user=user,
        password=etcd_password(password_file),
        verbose=verbose,
    )


PASSWORD_REFUSED = (
    "a password on the command line is readable by every user of this machine "
    f"(/proc/*/cmdline, ps); use --password-file FILE (mode 600) or ${ENV_VARS['password']}"
)


def etcd_password(password_file: Path | None) -> str | None:
    """The password from `password_file` (refused if others may read it), else from the
    environment; never from the command line."""
    if password_file is None:
        return os.environ.get(ENV_VARS["password"]) or None
    from crds.errors import ValidationError
    from store.config import read_private_file  # imports grpc: only when a file is given

    try:
        return read_private_file(password_file, what="etcd password")
    except ValidationError as exc:
        raise typer.BadParameter(str(exc), param_hint="'--password-file'") from exc


def main() -> None:
    """`o2`, as the console script runs it (cli.entry: frequent reads without typer)."""
    from cli.entry import main as entry

    entry()


if __name__ == "__main__":
    main()
