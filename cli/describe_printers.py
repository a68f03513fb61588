"""`o2 describe env|task` views: role tree, transition history, placement. Pure printers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from rich.console import Group, RenderableType
from rich.text import Text
from rich.tree import Tree

from cli.printers import (
    NONE,
    conditions_table,
    events_table,
    human_age,
    metadata_lines,
    render_table,
)

if TYPE_CHECKING:  # cli.rawdescribe passes views of the stored JSON with the same attributes
    from crds.kinds.environment import Environment, TransitionRecord
    from crds.kinds.task import Task

LABEL_WIDTH = 19


def _field(title: str, value: object) -> str:
    text = NONE if value is None or value == "" else str(value)
    return f"{title + ':':<{LABEL_WIDTH}}{text}"


def _vars_lines(title: str, values: Mapping[str, str]) -> list[str]:
    if not values:
        return [_field(title, NONE)]
    items = [f"{k}={v}" for k, v in sorted(values.items())]
    return [_field(title, items[0]), *(" " * LABEL_WIDTH + i for i in items[1:])]


def _when(ts: datetime | None, *, now: datetime) -> str:
    return NONE if ts is None else f"{ts.isoformat()} ({human_age(ts, now=now)} ago)"


# ---- environment ---------------------------------------------------------------------------


def environment_lines(env: Environment, *, now: datetime) -> list[str]:
    spec, status = env.spec, env.status
    lines = [
        _field("Workflow", spec.workflow),
        _field("Desired State", spec.state),
        _field("State", status.state),
        _field("Run Number", status.run_number),
        _field("Last Run Number", status.last_run_number),
        _field("Run Type", spec.run_type),
        _field("Recover Requests", f"{status.recovered_request}/{spec.recover_request} handled"),
    ]
    lines += _vars_lines("Vars", spec.vars)
    progress = status.transition
    if progress is not None:
        lines.append(_field("Transition", f"{progress.event} at step {progress.step or NONE}"))
        lines.append(_field("  Started", _when(progress.started_at, now=now)))
        lines.append(_field("  Doing", progress.message))
    else:
        lines.append(_field("Transition", NONE))
    lines.append(_field("Message", status.message))
    counts = " ".join(f"{k}={v}" for k, v in sorted(status.task_counts.items()))
    lines.append(_field("Tasks", f"{status.task_total} ({counts or 'none'})"))
    return lines


def _task_leaf(task: Task) -> Text:
    status = task.status
    text = Text(task.metadata.name, style="bold")
    state = status.state or "-"
    style = "red" if state == "ERROR" or status.phase in ("Failed", "Lost") else ""
    text.append(f"  {state}", style=style)
    text.append(f"  {status.phase}")
    text.append(f"  node={status.hostname or NONE}  pid={status.pid or NONE}")
    if not task.spec.critical:
        text.append("  (non-critical)", style="dim")
    if status.message:
        text.append(f"  {status.message}", style="dim")
    return text


def role_tree(env: Environment, tasks: Sequence[Task]) -> Tree:
    """Roles as nested branches (`flp-tpc.readout` under `flp-tpc`), tasks as leaves; roles
    the controller reports without tasks (yet) are shown empty."""
    root = Tree(Text(f"environment/{env.metadata.name} ({env.status.state})", style="bold"))
    branches: dict[str, Tree] = {}

    def branch(path: str) -> Tree:
        if not path:
            return root
        if path not in branches:
            parent, _, leaf = path.rpartition(".")
            branches[path] = branch(parent).add(Text(leaf, style="cyan"))
        return branches[path]

    for summary in env.status.roles:
        branch(summary.path)
    for task in sorted(tasks, key=lambda t: (t.spec.role, t.metadata.name)):
        branch(task.spec.role).add(_task_leaf(task))
    return root


def channel_rows(tasks: Sequence[Task]) -> list[list[str]]:
    """One row per connect channel: the connecting role and channel, the bound peer it targets,
    the channel type and the address it connects to (the peer's status.channels)."""
    bound: dict[str, str] = {}
    for task in tasks:
        for channel in task.spec.bind:
            address = task.status.channels.get(channel.name, "(not placed)")
            bound[f"{task.spec.role}:{channel.name}"] = address
            if channel.global_:
                bound[f"::{channel.global_}"] = address
    rows = []
    for task in sorted(tasks, key=lambda t: t.spec.role):
        for out in task.spec.connect:
            target = out.target
            fixed = target.startswith(("tcp://", "ipc://"))
            address = target if fixed else bound.get(target, "(no such peer)")
            rows.append([f"{task.spec.role}:{out.name}", target, out.type, address])
    return rows


def channel_table(tasks: Sequence[Task]) -> RenderableType:
    rows = channel_rows(tasks)
    if not rows:
        return Text(f"Channels:  {NONE}")
    return Group(Text("Channels:"), render_table(["FROM", "TO", "TYPE", "ADDRESS"], rows))


def _duration(record: TransitionRecord) -> str:
    if record.duration_seconds is None:
        return NONE
    return f"{record.duration_seconds:.1f}s"


def history_table(history: Sequence[TransitionRecord], *, now: datetime) -> RenderableType:
    if not history:
        return Text(f"Transitions:  {NONE}")
    headers = ["EVENT", "FROM", "TO", "RESULT", "RUN", "AGE", "DURATION", "MESSAGE"]
    rows = [
        [
            r.event,
            r.from_state,
            r.to_state,
            r.result,
            "" if r.run_number is None else str(r.run_number),
            human_age(r.finished_at or r.started_at, now=now),
            _duration(r),
            r.message,
        ]
        for r in history
    ]
    return Group(Text("Transitions:"), render_table(headers, rows))


def describe_environment(
    env: Environment,
    *,
    tasks: Sequence[Task],
    events: Sequence[Mapping[str, Any]],
    now: datetime,
) -> RenderableType:
    """Metadata, spec/status summary, role tree, transitions, conditions, then Events."""
    return Group(
        Text("\n".join(metadata_lines(env, now=now) + environment_lines(env, now=now))),
        Text("Roles:"),
        role_tree(env, tasks),
        channel_table(tasks),
        history_table(env.status.history, now=now),
        conditions_table(env.status.conditions, now=now),
        events_table(events, now=now),
    )


# ---- task ----------------------------------------------------------------------------------


def _argv(task: Task) -> str:
    command = task.spec.command
    argv = " ".join([command.value, *command.arguments])
    return f"/bin/sh -c {argv!r}" if command.shell else argv


def task_lines(task: Task, *, now: datetime) -> list[str]:
    spec, status = task.spec, task.status
    lines = [
        _field("Environment", spec.environment),
        _field("Role", spec.role),
        _field("Task Class", spec.task_class),
        _field("Control", spec.control),
        _field("Command", _argv(task)),
        _field("Critical", "yes" if spec.critical else "no"),
        _field("Reusable", "yes" if spec.reusable else "no"),
        _field(
            "Wants",
            f"cpus={spec.wants.cpus:g} memory={spec.wants.memory}MB ports={spec.wants.ports}",
        ),
    ]
    constraints = [f"{c.attribute} {c.operator} {c.value}".rstrip() for c in spec.constraints]
    lines.append(_field("Constraints", "; ".join(constraints)))
    lines += _vars_lines("Properties", spec.properties)
    lines += [
        _field("Desired State", spec.state),
        _field("State", status.state),
        _field("Phase", status.phase),
        _field("Run Number", spec.run_number),
    ]
    return lines


def placement_lines(task: Task, *, now: datetime) -> list[str]:
    """Where and how the process runs (or why it does not)."""
    status = task.status
    ports = ",".join(str(p) for p in status.ports)
    lines = [
        _field("Node", status.hostname),
        _field("Agent", status.agent_id),
        _field("Ports", ports),
        *_vars_lines("Channels", status.channels),
        _field("PID", status.pid),
        _field("Started", _when(status.started_at, now=now)),
        _field("Exit Code", status.exit_code),
        _field("Signal", status.signal),
        _field("Reason", status.reason),
        _field("Message", status.message),
        _field("Mesos Task", status.mesos_task_id),
        _field("Executor", status.executor_id),
    ]
    sandbox = "<executor sandbox>/" + status.mesos_task_id if status.mesos_task_id else None
    hint = f"{sandbox} (read it with `o2 logs {task.metadata.name}`)" if sandbox else None
    lines.append(_field("Sandbox", hint))
    return lines


def describe_task(
    task: Task, *, events: Sequence[Mapping[str, Any]], now: datetime
) -> RenderableType:
    """Metadata, what runs, placement (node, ports, pid, exit), conditions, then Events."""
    placement = "\n".join(placement_lines(task, now=now))
    return Group(
        Text("\n".join(metadata_lines(task, now=now) + task_lines(task, now=now))),
        Text("Placement:\n" + "\n".join("  " + line for line in placement.splitlines())),
        conditions_table(task.status.conditions, now=now),
        events_table(events, now=now),
    )
