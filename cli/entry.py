"""The `o2` console script: the most frequent reads run without typer, everything else through it.

`o2 get KIND [NAME...] [-o FORMAT] [-l SELECTOR]` and `o2 describe KIND NAME...` are what
operators and scripts run most. Through typer they pay for importing it and for the pydantic
validator typer builds for every parameter (root options included): ~0.2 s of CPU, a third of
the command. These argument lists are simple enough to read exactly: `fast_command` accepts
only them (options from their O2_* variables, no root flag, no other option, no completion)
and runs the very body the typer command runs (cli.listing, cli.describing) with the same
error handling (cli.runtime.run_with). Anything else, including every mistake, goes to typer,
which gives its usual help and errors. tests/cli/test_fast_path.py checks that both paths
print the same bytes and exit with the same code.

Before that, `o2 get` of the kinds and outputs cli.rawget serves, and `o2 describe env`
(cli.rawdescribe), are printed from the stored JSON, without the models, asyncio or the gRPC
client (each module says when it steps aside);
shell completion of the most typed words (cli.fastcomplete) and the root help, once typer has
printed it in the same conditions (cli.helpcache), are answered without typer too.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cli.options import GlobalOptions

Body = Callable[["GlobalOptions"], Awaitable[None]]

GET_OPTIONS = {"-o": "output", "--output": "output", "-l": "selector", "--selector": "selector"}
"""The `o2 get` options the fast path reads (each takes one value); any other option, even a
valid one (`-w`, `--env`), sends the command to typer."""
RUN_KINDS = frozenset({"run", "runs"})


def _split(words: Sequence[str], known: dict[str, str]) -> tuple[list[str], dict[str, str]] | None:
    """Positional words and option values, or None when a word is not plainly one of them
    (`--`, an unknown or repeated option, a missing value, a value that looks like an option,
    `-o=json`, which click reads as the value `=json`)."""
    positional: list[str] = []
    values: dict[str, str] = {}
    rest = list(words)
    while rest:
        word = rest.pop(0)
        if not word.startswith("-"):
            positional.append(word)
            continue
        flag, value = _flag_and_value(word)
        name = known.get(flag)
        if name is None or name in values or value.startswith(("-", "=")):
            return None
        if not value:
            if not rest or rest[0].startswith("-"):
                return None
            value = rest.pop(0)
        values[name] = value
    return positional, values


def _flag_and_value(word: str) -> tuple[str, str]:
    """`--output=json` and `-ojson` as (flag, value); `--output`, `-o` with no value."""
    if word.startswith("--"):
        flag, _, value = word.partition("=")
        return flag, value
    return word[:2], word[2:]


def fast_command(argv: Sequence[str]) -> Body | None:
    """The command body for `argv` if it is a plain get or describe, else None (typer)."""
    if not argv or os.environ.get("_O2_COMPLETE"):
        return None
    command, words = argv[0], argv[1:]
    if command == "get":
        split = _split(words, GET_OPTIONS)
        if split is None or not split[0] or split[0][0].lower() in RUN_KINDS:
            return None
        (kind, *names), values = split
        return _get_body(kind, names, values)
    if command == "describe":
        split = _split(words, {})
        if split is None or len(split[0]) < 2:
            return None
        (kind, *names), _ = split
        return _describe_body(kind, names)
    return None


def raw_read(argv: Sequence[str]) -> int | None:
    """The exit code of `o2 get` or `o2 describe` served from the stored JSON (cli.rawget,
    cli.rawdescribe), or None when that path cannot serve it (then `fast_command`'s body
    runs, with the models)."""
    if fast_command(argv) is None:
        return None
    split = _split(argv[1:], GET_OPTIONS if argv[0] == "get" else {})
    assert split is not None  # fast_command read it
    (kind, *names), values = split
    from crds.kindnames import plural_for

    plural = plural_for(kind)
    if plural is None or "selector" in values:
        return None
    try:
        served = _raw(argv[0], plural=plural, names=names, output=values.get("output", "table"))
        sys.stdout.flush()
    except BrokenPipeError:
        return _closed_pipe()
    except Exception as exc:  # a bug: one line, as run_with reports it (-vv goes to typer)
        from cli.runtime import ERROR_EXIT, report_unexpected

        report_unexpected(exc)
        return ERROR_EXIT
    return 0 if served else None


def _raw(command: str, *, plural: str, names: list[str], output: str) -> bool:
    from cli.options import options_from_env

    if command == "get":
        from cli.rawget import raw_get

        return raw_get(options_from_env(), plural=plural, names=names, output=output)
    from cli.rawdescribe import raw_describe

    return raw_describe(options_from_env(), plural=plural, names=names)


def _get_body(kind: str, names: list[str], values: dict[str, str]) -> Body:
    async def body(opts: GlobalOptions) -> None:
        from cli.listing import get_command_body

        await get_command_body(
            opts,
            kind=kind,
            names=names,
            output=values.get("output", "table"),
            selector=values.get("selector"),
            watch=False,
            env="",
            detector="",
        )

    return body


def _describe_body(kind: str, names: list[str]) -> Body:
    async def body(opts: GlobalOptions) -> None:
        from cli.describing import describe_objects

        await describe_objects(opts, kind=kind, names=names)

    return body


def run_fast(body: Body) -> int:
    """Run `body` as typer would run the command: global options from the environment, the
    same error handling, the exit code returned (a closed pipe exits 1, as click does)."""
    from cli.options import options_from_env, setup_logging
    from cli.runtime import run_with

    setup_logging(0)
    try:
        run_with(options_from_env(), body)
    except BrokenPipeError:
        return _closed_pipe()
    except Exception as exc:  # typer.Exit, raised by run_with with the exit code
        code = getattr(exc, "exit_code", None)
        if not isinstance(code, int):
            raise
        return code
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        return _closed_pipe()
    return 0


def _closed_pipe() -> int:
    """`o2 get tasks | head -1`: nothing more for the closed pipe, exit 1 (click's way)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return 1


ROOT_VALUE_OPTIONS = frozenset(
    {"--etcd", "--prefix", "--cacert", "--cert", "--key", "--user", "--password", "--password-file"}
)
"""The root options that take a value (skipped when counting -v before the command)."""


def verbosity(argv: Sequence[str]) -> int:
    """How many -v the root options before the command ask for (`-vv`, `-v -v`, `--verbose`)."""
    count = 0
    words = iter(argv)
    for word in words:
        if word in ROOT_VALUE_OPTIONS:
            next(words, None)
        elif word == "--verbose":
            count += 1
        elif len(word) > 1 and word.strip("v") == "-":
            count += len(word) - 1
        elif not word.startswith("-"):
            break
    return count


HELP_ARGV = (("--help",), ("-h",))
"""The root help, answered from cli.helpcache once typer has printed it."""


def _recording_help(argv: Sequence[str]) -> AbstractContextManager[None]:
    if tuple(argv) not in HELP_ARGV:
        return nullcontext()
    from cli.helpcache import recording

    return recording(argv)


def without_typer(argv: Sequence[str]) -> int | None:
    """The exit code of a command answered without typer (completion, the cached root help,
    a raw or fast read), or None: typer runs it."""
    if os.environ.get("_O2_COMPLETE"):
        from cli.fastcomplete import fast_completion

        text = fast_completion()
        if text is not None:
            sys.stdout.write(text)
            return 0
        return None
    if tuple(argv) in HELP_ARGV:
        from cli.helpcache import print_cached

        if print_cached(argv):
            return 0
    code = raw_read(argv)
    if code is not None:
        return code
    body = fast_command(argv)
    return None if body is None else run_fast(body)


def main() -> None:
    """Console script entry point (`o2`). An exception a command did not expect (commands
    that run through cli.runtime.run already report theirs) is one line on stderr and exit
    1, its traceback only with -vv: the contract holds for every command."""
    argv = sys.argv[1:]
    code = without_typer(argv)
    if code is not None:
        sys.exit(code)
    from cli.main import app

    try:
        with _recording_help(argv):
            app(prog_name="o2")
    except Exception as exc:
        if verbosity(argv) >= 2:
            raise
        from cli.runtime import ERROR_EXIT, report_unexpected

        report_unexpected(exc)
        sys.exit(ERROR_EXIT)
