"""The root command group of `o2`: commands from cli.lazy.COMMANDS, each module imported on
first use; help and completion of command names use the table's summaries instead."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from difflib import get_close_matches
from typing import Any

from typer.core import TyperCommand, TyperGroup

from cli.lazy import BY_NAME, COMMANDS, registered_by


class LazyGroup(TyperGroup):
    """A TyperGroup whose commands come from `COMMANDS`, imported on first use; help and
    name completion use summary stand-ins instead of importing every module."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.summaries_only = False

    @contextmanager
    def _summaries(self) -> Iterator[None]:
        previous, self.summaries_only = self.summaries_only, True
        try:
            yield
        finally:
            self.summaries_only = previous

    # typer vendors click privately: its Context, Command and HelpFormatter are typed Any here.

    def list_commands(self, ctx: Any) -> list[str]:
        extra = [name for name in self.commands if name not in BY_NAME]
        return [command.name for command in COMMANDS] + extra

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        lazy = BY_NAME.get(cmd_name)
        if lazy is None:
            return None
        if self.summaries_only:
            return TyperCommand(lazy.name, help=lazy.summary, short_help=lazy.summary)
        for name, command in registered_by(lazy.module).items():
            self.commands.setdefault(name, command)
        return self.commands.get(cmd_name)

    def format_help(self, ctx: Any, formatter: Any) -> None:
        with self._summaries():
            super().format_help(ctx, formatter)

    def shell_complete(self, ctx: Any, incomplete: str) -> list[Any]:
        with self._summaries():
            return super().shell_complete(ctx, incomplete)

    def resolve_command(self, ctx: Any, args: list[str]) -> tuple[str | None, Any, list[str]]:
        name = args[0] if args else ""
        unknown = name and not name.startswith("-") and self.get_command(ctx, name) is None
        if unknown and not ctx.resilient_parsing:
            close = get_close_matches(name, self.list_commands(ctx))
            hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            ctx.fail(f"No such command {name!r}.{hint}")
        return super().resolve_command(ctx, args)
