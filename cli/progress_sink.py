"""Where the state commands' progress goes: a rich Live view on a terminal, plain lines otherwise.

Both write to stderr only, so stdout stays machine-clean (`-o json`). Edge I/O; the views
themselves are the pure functions of cli.progress.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Protocol

from rich.console import Console
from rich.live import Live

from cli.progress import (
    Goal,
    Tally,
    failing_table,
    history_lines,
    plain_line,
    progress_view,
)
from cli.runtime import stderr_console
from crds.kinds.environment import Environment, TransitionRecord

PLAIN_INTERVAL = 1.0
"""Plain output prints a count-only change at most this often (state changes: at once)."""


class ProgressSink(Protocol):
    def show(self, env: Environment | None, counts: Tally, goal: Goal) -> None: ...

    def failed(self, counts: Tally) -> None: ...

    def history(self, records: Sequence[TransitionRecord]) -> None: ...

    def close(self) -> None: ...


class LiveSink:
    """A rich Live view, redrawn on every change (no timer: nothing moves between changes)."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.live = Live(console=console, auto_refresh=False, transient=False)
        self.live.start()

    def show(self, env: Environment | None, counts: Tally, goal: Goal) -> None:
        self.live.update(progress_view(env, counts, goal), refresh=True)

    def history(self, records: Sequence[TransitionRecord]) -> None:
        self.live.stop()
        for line in history_lines(records):
            self.console.print(line, soft_wrap=True, highlight=False, markup=False)

    def failed(self, counts: Tally) -> None:
        self.live.stop()
        if counts.failing:
            self.console.print("Failing tasks:")
            self.console.print(failing_table(counts.failing))

    def close(self) -> None:
        self.live.stop()


class PlainSink:
    """One line per change of state, transition or step; count changes at most once a second."""

    def __init__(
        self,
        console: Console,
        *,
        clock: Callable[[], float] = time.monotonic,
        interval: float = PLAIN_INTERVAL,
    ) -> None:
        self.console = console
        self.clock = clock
        self.interval = interval
        self.last_line = ""
        self.last_head: tuple[object, ...] = ()
        self.last_at = float("-inf")
        self.pending = ""

    def show(self, env: Environment | None, counts: Tally, goal: Goal) -> None:
        line = plain_line(env, counts, goal)
        if line == self.last_line:
            return
        head = _head(env)
        now = self.clock()
        if head != self.last_head or now - self.last_at >= self.interval:
            self._print(line, head=head, now=now)
        else:
            self.pending = line

    def _print(self, line: str, *, head: tuple[object, ...], now: float) -> None:
        self.console.print(line, soft_wrap=True, highlight=False, markup=False)
        self.last_line, self.last_head, self.last_at, self.pending = line, head, now, ""

    def history(self, records: Sequence[TransitionRecord]) -> None:
        self.flush()
        for line in history_lines(records):
            self.console.print(line, soft_wrap=True, highlight=False, markup=False)

    def failed(self, counts: Tally) -> None:
        self.flush()
        if counts.failing:
            self.console.print("Failing tasks:")
            self.console.print(failing_table(counts.failing), soft_wrap=True)

    def flush(self) -> None:
        if self.pending:
            self._print(self.pending, head=self.last_head, now=self.clock())

    def close(self) -> None:
        self.flush()


def _head(env: Environment | None) -> tuple[object, ...]:
    if env is None:
        return ("deleted",)
    progress = env.status.transition
    return (
        env.status.state,
        env.status.run_number,
        None if progress is None else (progress.event, progress.step),
    )


def open_sink(*, live: bool) -> ProgressSink:
    console = stderr_console()
    return LiveSink(console) if live else PlainSink(console)
