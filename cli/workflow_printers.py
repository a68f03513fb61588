"""`o2 describe workflow` view: description, roles and the public variables an operator may set
(what AliECS's GUI builds its environment form from). Pure printers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from rich.console import Group, RenderableType
from rich.text import Text

from cli.printers import NONE, events_table, metadata_lines, render_table
from crds.kinds.workflow import VariableSpec, Workflow, walk_roles

VARIABLE_HEADERS = ["PANEL", "NAME", "TYPE", "LABEL", "DEFAULT", "ALLOWED", "DESCRIPTION"]
DEFAULT_WIDTH = 40
"""Longer defaults (JSON lists, scripts) are cut in the table; `-o yaml` shows them whole."""


def default_of(workflow: Workflow, name: str) -> str:
    """The value a public variable has when the operator sets none (vars over defaults)."""
    spec = workflow.spec
    return spec.vars.get(name, spec.defaults.get(name, ""))


def variable_rows(workflow: Workflow) -> list[list[str]]:
    """One row per public variable, by panel, then index, then name."""
    declared = workflow.spec.variables

    def order(item: tuple[str, VariableSpec]) -> tuple[str, int, str]:
        name, spec = item
        return spec.panel, spec.index, name

    rows = []
    for name, spec in sorted(declared.items(), key=order):
        rows.append(
            [
                spec.panel or NONE,
                name,
                spec.type,
                spec.label or NONE,
                _cut(default_of(workflow, name)),
                ", ".join(spec.values) or NONE,
                _cut(" ".join(spec.description.split())) or NONE,
            ]
        )
    return rows


def workflow_lines(workflow: Workflow) -> list[str]:
    spec = workflow.spec
    roles = walk_roles(spec.roles)
    tasks = sum(1 for _, r in roles if r.task is not None)
    calls = sum(1 for _, r in roles if r.call is not None)
    includes = sorted({r.include for _, r in roles if r.include is not None})
    return [
        f"{'Description:':<19}{' '.join(spec.description.split()) or NONE}",
        f"{'Public:':<19}{'yes' if spec.public else 'no'}",
        f"{'Roles:':<19}{len(spec.roles)} top-level, {tasks} task roles, {calls} calls",
        f"{'Includes:':<19}{', '.join(includes) or NONE}",
    ]


def describe_workflow(
    workflow: Workflow, *, events: Sequence[Mapping[str, Any]], now: datetime
) -> RenderableType:
    """Metadata, what the workflow is, its public variables, then Events."""
    rows = variable_rows(workflow)
    title = f"Public variables ({len(rows)}; set with `o2 create env --var NAME=VALUE`):"
    variables: RenderableType = render_table(VARIABLE_HEADERS, rows) if rows else Text(f"  {NONE}")
    return Group(
        Text("\n".join(metadata_lines(workflow, now=now) + workflow_lines(workflow))),
        Text(title),
        variables,
        events_table(events, now=now),
    )


def _cut(text: str) -> str:
    return text if len(text) <= DEFAULT_WIDTH else text[: DEFAULT_WIDTH - 1] + "…"
