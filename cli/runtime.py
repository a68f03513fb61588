"""Glue every command shares: consoles, the store connection and error rendering. Edge I/O."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import TYPE_CHECKING, TypeVar

from cli.options import GlobalOptions
from cli.printers import field_errors_text
from cli.tableout import print_out, print_table, stderr_console, stdout_console, write_out
from crds.errors import O2Error, StoreUnavailableError, ValidationError

if TYPE_CHECKING:
    import typer
    from rich.console import RenderableType

    from store.api import Store
    from store.config import StoreConfig

T = TypeVar("T")

__all__ = ["print_out", "print_table", "stderr_console", "stdout_console", "write_out"]

ERROR_EXIT = 1
INTERRUPTED_EXIT = 130
CLI_RETRY_SECONDS = 3.0
"""How long a command retries an unreachable etcd before saying so (kubectl fails fast too)."""


def warn(message: RenderableType) -> None:
    """A warning on stderr; never wrapped (keys and paths stay copyable)."""
    stderr_console().print(message, soft_wrap=True)


def warn_line(line: str) -> None:
    """`warn` for plain text: never read as rich markup (keys and URLs hold brackets)."""
    from rich.text import Text

    warn(Text(line))


def options(ctx: typer.Context) -> GlobalOptions:
    obj = ctx.find_root().obj
    return obj if isinstance(obj, GlobalOptions) else GlobalOptions()


def connection_hint(opts: GlobalOptions) -> str:
    return (
        f"cannot reach etcd at {opts.etcd}: point o2 at a running etcd with --etcd URL "
        "(or O2_ETCD=URL), or start a local one with `o2 up`"
    )


def store_config(opts: GlobalOptions) -> StoreConfig:
    """The etcd connection settings of the global options (flags, then the environment)."""
    from store.config import StoreConfig

    return StoreConfig.from_env(
        etcd=opts.etcd,
        prefix=opts.prefix,
        ca_file=opts.cacert,
        cert_file=opts.cert,
        key_file=opts.key,
        username=opts.user,
        password=opts.password,
    )


@asynccontextmanager
async def connect(opts: GlobalOptions) -> AsyncIterator[Store]:
    """An open store for the global options; the connection error says how to fix it."""
    from store.config import open_store

    config = store_config(opts)
    store = await open_store(replace(config, retry_timeout=CLI_RETRY_SECONDS), warn=warn_line)
    try:
        yield store
    finally:
        await store.close()


def short_cause(message: str) -> str:
    """The useful part of a transport error: grpc's `details = "..."`, else the first line."""
    match = re.search(r'details = "([^"]*)"', message)
    if match:
        return match.group(1)
    return message.splitlines()[0] if message else "unreachable"


def render_error(exc: O2Error, opts: GlobalOptions) -> None:
    """An O2Error as people read it: the message, no traceback."""
    from rich.text import Text

    console = stderr_console()
    if isinstance(exc, ValidationError):
        console.print(field_errors_text(exc.errors), end="")
        return
    message = str(exc)
    if isinstance(exc, StoreUnavailableError):
        message = store_error_message(message, opts)
    console.print(Text.assemble(("error: ", "bold red"), message), soft_wrap=True)


AUTH_MARKERS = ("authentication", "user name is empty", "permission denied", "invalid user")


def store_error_message(message: str, opts: GlobalOptions) -> str:
    """Unreachable: which endpoint and how to point o2 elsewhere; refused: which credentials."""
    if any(marker in message.lower() for marker in AUTH_MARKERS):
        cause = re.search(r"etcdserver: ([^)]*)", message)
        why = cause.group(1).replace("\n", " ").strip() if cause else short_cause(message)
        return (
            f"etcd at {opts.etcd} refused the request ({why}): check --user/--password-file "
            "(O2_ETCD_USER/O2_ETCD_PASSWORD) and that user's role"
        )
    return f"{connection_hint(opts)} ({short_cause(message)})"


def run(
    ctx: typer.Context,
    command: Callable[[GlobalOptions], Awaitable[T]],
    *,
    error_exit: int = ERROR_EXIT,
) -> T:
    """Run an async command body; O2Errors become a message on stderr and `error_exit`."""
    return run_with(options(ctx), command, error_exit=error_exit)


def run_with(
    opts: GlobalOptions,
    command: Callable[[GlobalOptions], Awaitable[T]],
    *,
    error_exit: int = ERROR_EXIT,
) -> T:
    """`run` for given options. typer is imported only to raise its Exit: the fast path of
    cli.entry runs commands without it."""
    try:
        return asyncio.run(_await(command(opts)))
    except O2Error as exc:
        render_error(exc, opts)
        raise _exit(error_exit) from exc
    except KeyboardInterrupt as exc:
        raise _exit(INTERRUPTED_EXIT) from exc
    except Exception as exc:  # a bug or an unmapped client error: a message, not a traceback
        if opts.verbose >= 2:
            raise
        report_unexpected(exc)
        raise _exit(ERROR_EXIT) from exc


def report_unexpected(exc: BaseException) -> None:
    """One line on stderr for an exception no command expected (a bug, an unmapped client
    error): its type and cause, and how to see the traceback."""
    from rich.text import Text

    stderr_console().print(
        Text.assemble(
            ("error: ", "bold red"),
            f"unexpected {type(exc).__name__}: {short_cause(str(exc))} "
            "(run with -vv for the traceback)",
        ),
        soft_wrap=True,
    )


def _exit(code: int) -> Exception:
    import typer

    return typer.Exit(code)


async def _await(awaitable: Awaitable[T]) -> T:
    return await awaitable
