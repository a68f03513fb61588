"""Shell completion of the most typed words without typer: command names, and the KIND and
NAMEs of `o2 get` and `o2 describe`.

A TAB must answer at once, and importing typer (click, its completion classes, the command
tree) cost more than the whole answer. The shell scripts typer installs call `o2` with
`_O2_COMPLETE=complete_bash` (COMP_WORDS, COMP_CWORD) or `complete_zsh`
(_TYPER_COMPLETE_ARGS); for the words above this module prints what typer prints, from the
same data (cli.lazy.COMMANDS, cli.selectors.complete_kind, cli.etcdgateway.read_names). Any other
line (options, root flags, quotes, other commands, other shells) gives None: typer completes it.
tests/cli/test_fast_complete.py compares both for each case served here. Edge I/O (NAMEs).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

KIND_NAME_COMMANDS = frozenset({"get", "describe"})
"""Commands whose arguments are KIND then NAMEs, completed by complete_kind and complete_name."""
QUOTING = frozenset("'\"\\$`")
"""Characters click's argument splitter would read differently from a plain split."""

NAME_TIMEOUT = 1.0
"""cli.completion.NAME_TIMEOUT (a test checks they agree)."""

Item = tuple[str, str]
"""A candidate and its help (empty: none)."""


def shell_words(environ: Mapping[str, str]) -> tuple[str, list[str], str] | None:
    """The shell, the complete words after `o2` and the word being completed, or None when
    this module does not complete for that shell or those words."""
    instruction, _, shell = environ.get("_O2_COMPLETE", "").partition("_")
    if instruction != "complete":
        return None
    if shell == "bash":
        line, cword = environ.get("COMP_WORDS", ""), environ.get("COMP_CWORD", "")
        if not cword.isdigit():
            return None
        words = line.split()
        args, incomplete = words[1 : int(cword)], "".join(words[int(cword) : int(cword) + 1])
    elif shell == "zsh":
        line = environ.get("_TYPER_COMPLETE_ARGS", "")
        args = line.split()[1:]
        incomplete = args.pop() if args and not line.endswith(" ") else ""
    else:
        return None
    if QUOTING.intersection(line):
        return None
    return shell, args, incomplete


def candidates(args: list[str], incomplete: str) -> list[Item] | None:
    """What typer would offer after `o2 ARGS`, or None when this module does not know."""
    if incomplete.startswith("-") or any(a.startswith("-") for a in args):
        return None
    if not args:
        from cli.lazy import COMMANDS

        if any("[" in c.summary for c in COMMANDS):  # rich markup: typer renders it
            return None
        return [(c.name, c.summary) for c in COMMANDS if c.name.startswith(incomplete)]
    if args[0] not in KIND_NAME_COMMANDS:
        return None
    if len(args) == 1:
        from cli.selectors import complete_kind

        found = complete_kind(incomplete)
    else:
        found = names(args[1], typed=args[2:], incomplete=incomplete)
    return [(value, "") for value in found if value.startswith(incomplete)]  # as typer filters


def names(kind: str, *, typed: list[str], incomplete: str) -> list[str]:
    """cli.completion.complete_name with the options from the environment (no root flag)."""
    from cli.etcdgateway import read_names
    from cli.options import options_from_env
    from crds.kindnames import plural_for

    plural = plural_for(kind)
    if plural is None:
        return []
    try:
        found = read_names(options_from_env(), plural, incomplete, timeout=NAME_TIMEOUT)
    except (OSError, ValueError, KeyError, TypeError):
        return []
    return [n for n in found if n not in typed]


def zsh_escape(text: str) -> str:
    """typer's ZshComplete escaping of values and help."""
    return (
        text.replace('"', '""')
        .replace("'", "''")
        .replace("$", "\\$")
        .replace("`", "\\`")
        .replace(":", r"\\:")
    )


def formatted(shell: str, items: list[Item]) -> str:
    """typer's BashComplete / ZshComplete `complete()` output, with click's final newline."""
    if shell == "bash":
        return "\n".join(value for value, _ in items) + "\n"
    if not items:
        return "_files\n"
    lines = [
        f'"{zsh_escape(v)}":"{zsh_escape(h)}"' if h else f'"{zsh_escape(v)}"' for v, h in items
    ]
    joined = "\n".join(lines)
    return f"_arguments '*: :(({joined}))'\n"


def fast_completion(environ: Mapping[str, str] | None = None) -> str | None:
    """The completion typer would print for this process's environment, or None."""
    words = shell_words(os.environ if environ is None else environ)
    if words is None:
        return None
    shell, args, incomplete = words
    items = candidates(args, incomplete)
    return None if items is None else formatted(shell, items)
