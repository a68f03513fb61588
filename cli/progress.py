"""What `o2 start` & co. wait for and show: verdicts and progress views. Pure: no I/O, no clock.

The state commands (cli.commands.state) feed this module the Environment and its Tasks as the
informers see them; it decides whether the wait is over (reached, ERROR, deleted) and renders
the live view (rich renderables) or one plain line per change for non-terminal output.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rich.console import Group, RenderableType
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from cli.printers import render_table
from crds.kinds.environment import Environment, TransitionRecord
from crds.kinds.task import Task

TASK_TARGET = {
    "STANDBY": "STANDBY",
    "DEPLOYED": "STANDBY",
    "CONFIGURED": "CONFIGURED",
    "RUNNING": "RUNNING",
    "DONE": "DONE",
}
"""The OCC state a task reaches when its environment reaches the key (DEPLOYED: STANDBY)."""

FAILED_PHASES = frozenset({"Failed", "Lost"})

COMMAND_TARGETS = {
    "deploy": "DEPLOYED",
    "configure": "CONFIGURED",
    "start": "RUNNING",
    "stop": "CONFIGURED",
    "reset": "DEPLOYED",
    "exit": "DONE",
}
"""The desired `spec.state` each state command writes (`recover` bumps spec.recoverRequest)."""


@dataclass(frozen=True)
class Goal:
    """What the command waits for: `target` state, seen by a controller that has observed
    `generation`; for `o2 recover`, also status.recoveredRequest reaching `recover_request`."""

    name: str
    target: str
    generation: int
    recover_request: int | None = None


@dataclass(frozen=True)
class Verdict:
    done: bool = False
    failed: bool = False
    reason: str = ""


def _recovering(env: Environment, goal: Goal) -> bool:
    return goal.recover_request is not None and env.status.recovered_request < goal.recover_request


def judge(env: Environment | None, goal: Goal) -> Verdict:
    """Reached (done), ERROR, GO_ERROR or deleted (failed), or keep waiting. A GO_ERROR in
    progress fails the wait at once: the transition failed, and ERROR is where it ends."""
    if env is None:
        return Verdict(failed=True, reason=f"environment/{goal.name} was deleted")
    status = env.status
    if _recovering(env, goal):
        return Verdict()
    if status.state == "ERROR":
        return Verdict(failed=True, reason=status.message or "the environment is in ERROR")
    progress = status.transition
    if progress is not None and progress.event == "GO_ERROR":
        why = progress.message or status.message or "a transition failed"
        return Verdict(failed=True, reason=f"{why} (the environment is going to ERROR)")
    reached = status.state == goal.target and status.transition is None
    if reached and status.observed_generation >= goal.generation:
        return Verdict(done=True)
    return Verdict()


def task_state(task: Task) -> str:
    """The OCC state when the process reported one, else the Mesos phase."""
    return task.status.state or task.status.phase


def is_failing(task: Task) -> bool:
    return task.status.state == "ERROR" or task.status.phase in FAILED_PHASES


@dataclass(frozen=True)
class Tally:
    """Task counts of one environment toward a target OCC state."""

    total: int
    reached: int
    by_state: dict[str, int]
    failing: tuple[Task, ...]


def tally(tasks: Iterable[Task], *, target: str) -> Tally:
    wanted = TASK_TARGET.get(target, target)
    items = list(tasks)
    counts = Counter(task_state(t) for t in items)
    failing = tuple(sorted((t for t in items if is_failing(t)), key=lambda t: t.metadata.name))
    return Tally(
        total=len(items),
        reached=counts.get(wanted, 0),
        by_state=dict(sorted(counts.items())),
        failing=failing,
    )


def _transition_text(env: Environment) -> str:
    progress = env.status.transition
    if progress is None:
        return ""
    parts = [progress.event]
    if progress.step:
        parts.append(f"step {progress.step}")
    text = ", ".join(parts)
    return f"{text}: {progress.message}" if progress.message else text


def _counts_text(counts: dict[str, int]) -> str:
    return " ".join(f"{state}={n}" for state, n in counts.items()) or "no tasks"


def _run_text(env: Environment) -> str:
    run = env.status.run_number
    return "" if run is None else f"run {run}"


def headline(env: Environment, goal: Goal) -> str:
    """`physics-1: CONFIGURED -> RUNNING (START_ACTIVITY, step tasks_START_ACTIVITY) run 12`."""
    text = f"{goal.name}: {env.status.state} -> {goal.target}"
    transition = _transition_text(env)
    if transition:
        text += f" ({transition})"
    run = _run_text(env)
    return f"{text} {run}" if run else text


def plain_line(env: Environment | None, counts: Tally, goal: Goal) -> str:
    """One line for logs and pipes: the headline, then tasks at target and by state."""
    if env is None:
        return f"{goal.name}: deleted"
    wanted = TASK_TARGET.get(goal.target, goal.target)
    tasks = f"tasks {wanted} {counts.reached}/{counts.total} [{_counts_text(counts.by_state)}]"
    return f"{headline(env, goal)}; {tasks}"


def progress_view(env: Environment | None, counts: Tally, goal: Goal) -> RenderableType:
    """The live view: headline, tasks by state, and a bar of the tasks at the target state."""
    if env is None:
        return Text(f"environment/{goal.name} was deleted", style="bold red")
    wanted = TASK_TARGET.get(goal.target, goal.target)
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    grid.add_row("Environment", goal.name)
    grid.add_row("State", f"{env.status.state} -> {goal.target}")
    grid.add_row("Transition", _transition_text(env) or "-")
    grid.add_row("Run", str(env.status.run_number) if env.status.run_number is not None else "-")
    grid.add_row("Tasks", _counts_text(counts.by_state))
    bar = ProgressBar(total=max(counts.total, 1), completed=counts.reached, width=40)
    label = Text(f" {counts.reached}/{counts.total} tasks {wanted}")
    line = Table.grid()
    line.add_row(bar, label)
    return Group(grid, line)


def failing_table(tasks: Sequence[Task]) -> RenderableType:
    """NAME ROLE STATE PHASE NODE CRITICAL MESSAGE of the failing tasks."""
    headers = ["NAME", "ROLE", "STATE", "PHASE", "NODE", "CRITICAL", "MESSAGE"]
    rows = [
        [
            t.metadata.name,
            t.spec.role,
            t.status.state or "",
            t.status.phase,
            t.status.hostname or "",
            "yes" if t.spec.critical else "no",
            t.status.message,
        ]
        for t in tasks
    ]
    return render_table(headers, rows)


def last_seen(env: Environment | None, counts: Tally, goal: Goal) -> str:
    """What a timeout message says was seen last."""
    if env is None:
        return "the environment does not exist"
    seen = plain_line(env, counts, goal)
    if env.status.observed_generation < goal.generation:
        seen += "; the controller has not observed the request yet (is `o2 up` running?)"
    elif env.status.message:
        seen += f"; message: {env.status.message}"
    return seen


def new_history(before: Environment, after: Environment) -> list[TransitionRecord]:
    """Transitions recorded in `after` that `before` did not have yet (oldest first)."""
    old = set(before.status.history)
    return [r for r in after.status.history if r not in old]


def history_lines(records: Sequence[TransitionRecord]) -> list[str]:
    """`START_ACTIVITY CONFIGURED -> RUNNING: Succeeded in 1.2s (run 12)` per transition."""
    lines = []
    for r in records:
        took = "" if r.duration_seconds is None else f" in {r.duration_seconds:.1f}s"
        run = "" if r.run_number is None else f" (run {r.run_number})"
        why = f": {r.message}" if r.message and r.result != "Succeeded" else ""
        lines.append(f"{r.event} {r.from_state} -> {r.to_state}: {r.result}{took}{run}{why}")
    return lines
