"""Where a task's stdout/stderr go: AliECS's `command.stdout`/`command.stderr` values. Pure.

AliECS (`log_task_stdout`/`log_task_stderr`) accepts `none`, `stdout` and `all`, trimmed and
case-insensitive, and refuses anything else. o2 keeps one more value, the empty string: its own
default, the output kept in the task's sandbox files (what `o2 logs` reads).

- `none`: discarded (/dev/null);
- `stdout`: into the executor's own output (its sandbox `stdout`/`stderr` files), each line
  prefixed with `task-stdout <mesos task id>: ` (or `task-stderr`), as AliECS logs it;
- `all`: both: the executor's output and the task's sandbox file.
"""

from __future__ import annotations

from typing import Final, Literal

OutputMode = Literal["", "none", "stdout", "all"]
OUTPUT_MODES: Final[tuple[str, ...]] = ("none", "stdout", "all")


def parse_output_mode(value: str) -> OutputMode:
    """The mode a rendered `command.stdout`/`stderr` names. Raises ValueError otherwise."""
    mode = value.strip().lower()
    if mode == "":
        return ""
    if mode == "none":
        return "none"
    if mode == "stdout":
        return "stdout"
    if mode == "all":
        return "all"
    raise ValueError(f"{value!r} is not an output mode; allowed: none, stdout, all (or empty)")


def keeps_sandbox_file(mode: str) -> bool:
    """The output is written to the task's own sandbox file."""
    return mode in ("", "all")


def forwards_to_executor(mode: str) -> bool:
    """The output is copied, line by line, into the executor's own output."""
    return mode in ("stdout", "all")


def line_prefix(stream: str, task_id: str) -> str:
    """The prefix of a forwarded line in the executor's output (`task-stdout ID: `)."""
    return f"task-{stream} {task_id}: "
