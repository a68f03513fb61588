"""Live changes of an Environment from the GUI's environment page: include or exclude
detectors, set or remove variables, scale a role. Pure.

The edits are those `o2 set detectors|var` make (crds.varedits), so the page and the CLI
write the same `spec.vars`; values are then checked by crds.publicvars as `o2 apply` checks
them. A role can be scaled only when the Workflow gives its `replicas` as one variable
(`replicas: "{{ qc_replicas }}"`): scaling writes that variable, the controller does the rest.
`spec_diff` is the unified diff of the spec the page shows before the one write.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import yaml

from crds.errors import FieldError, ValidationError
from crds.kinds.environment import Environment, EnvironmentSpec
from crds.kinds.workflow import Workflow, walk_roles
from crds.newenv import DETECTORS_VARIABLE, workflow_value
from crds.varedits import DetectorEdit, detectors_after, detectors_text, read_detectors

RECONFIGURE: tuple[str, ...] = ("NextRun", "Now")
"""spec.reconfigure: apply a change while RUNNING at the next run, or now."""
MAX_REPLICAS = 1000
_ONE_VARIABLE = re.compile(r"^\s*\{\{\s*([A-Za-z_]\w*)\s*\}\}\s*$")


@dataclass(frozen=True)
class ScalableRole:
    """A role whose copies are counted by one variable of the environment."""

    path: str
    variable: str


def scalable_roles(workflow: Workflow) -> list[ScalableRole]:
    """The roles of `workflow` whose `replicas` is exactly `{{ variable }}`, by path. A
    computed count (`{{ n * 2 }}`) or a fixed one cannot be changed from the page."""
    found: list[ScalableRole] = []
    for path, role in walk_roles(workflow.spec.roles):
        match = _ONE_VARIABLE.match(role.replicas or "")
        if match:
            found.append(ScalableRole(path, match.group(1)))
    return found


@dataclass(frozen=True)
class LiveChange:
    """What the page asks for: one of detectors, variables or a scaled role, and optionally
    when a RUNNING environment takes it (spec.reconfigure)."""

    detectors: DetectorEdit | None = None
    assign: Mapping[str, str] = field(default_factory=dict)
    remove: tuple[str, ...] = ()
    scale: tuple[str, int] | None = None
    reconfigure: str | None = None


def _invalid(path: str, message: str) -> ValidationError:
    return ValidationError([FieldError(path=path, message=message)])


def _names(body: Mapping[str, object], key: str) -> tuple[str, ...]:
    value = body.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise _invalid(key, f"{key} must be a list of names")
    return tuple(value)


def parse_change(body: object) -> LiveChange:
    """The page's JSON as a LiveChange; ValidationError naming the field for a wrong shape.
    `{"change": "detectors", "add": [..], "remove": [..]}`, `{"change": "vars", "set": {k: v},
    "remove": [k]}` or `{"change": "scale", "role": path, "replicas": n}`, each with an
    optional `"reconfigure": "NextRun" | "Now"`."""
    if not isinstance(body, dict):
        raise _invalid("body", "send a JSON object")
    reconfigure = body.get("reconfigure")
    if reconfigure is not None and reconfigure not in RECONFIGURE:
        raise _invalid("reconfigure", f"choose one of {', '.join(RECONFIGURE)}")
    kind = body.get("change")
    if kind == "detectors":
        add, remove = _names(body, "add"), _names(body, "remove")
        if not add and not remove:
            raise _invalid("detectors", "choose a detector to include or exclude")
        both = sorted(set(add) & set(remove))
        if both:
            raise _invalid("detectors", f"{', '.join(both)}: both included and excluded")
        return LiveChange(DetectorEdit(add=add, remove=remove), reconfigure=reconfigure)
    if kind == "vars":
        assign = body.get("set", {})
        if not isinstance(assign, dict) or not all(isinstance(v, str) for v in assign.values()):
            raise _invalid("set", "set must map variable names to text values")
        return LiveChange(
            assign={str(k): v for k, v in assign.items()},
            remove=_names(body, "remove"),
            reconfigure=reconfigure,
        )
    if kind == "scale":
        role, replicas = body.get("role"), body.get("replicas")
        if not isinstance(role, str) or not role:
            raise _invalid("role", "name the role to scale (its path)")
        if not isinstance(replicas, int) or isinstance(replicas, bool):
            raise _invalid("replicas", "give the number of copies as a whole number")
        if not 0 <= replicas <= MAX_REPLICAS:
            raise _invalid("replicas", f"give a number of copies from 0 to {MAX_REPLICAS}")
        return LiveChange(scale=(role, replicas), reconfigure=reconfigure)
    raise _invalid("change", "change must be one of detectors, vars, scale")


def current_detectors(env: Environment, workflow: Workflow | None) -> list[str]:
    """The environment's detectors: its `detectors` variable, else its Workflow's value."""
    unset = (workflow_value(workflow, DETECTORS_VARIABLE) if workflow else None) or ""
    return read_detectors(env.spec.vars.get(DETECTORS_VARIABLE, unset))


def changed_vars(
    env: Environment, change: LiveChange, *, workflow: Workflow | None
) -> tuple[dict[str, str], list[str]]:
    """spec.vars after `change`, and warnings (a detector to exclude that is not there)."""
    values = dict(env.spec.vars)
    if change.detectors is not None:
        current = current_detectors(env, workflow)
        names, absent = detectors_after(current, change.detectors)
        warnings = [f"{name} is not among the detectors of {env.ref}" for name in absent]
        if names != current:
            values[DETECTORS_VARIABLE] = detectors_text(names)
        return values, warnings
    if change.scale is not None:
        role, replicas = change.scale
        by_path = {r.path: r.variable for r in scalable_roles(workflow)} if workflow else {}
        if role not in by_path:
            message = f"role {role!r} cannot be scaled: its replicas is not one variable"
            raise _invalid("role", message + f" (scalable: {', '.join(by_path) or 'none'})")
        values[by_path[role]] = str(replicas)
        return values, []
    values = {k: v for k, v in values.items() if k not in change.remove}
    values.update(change.assign)
    return values, []


def changed_environment(
    env: Environment, change: LiveChange, *, workflow: Workflow | None
) -> tuple[Environment, list[str]]:
    """`env` with `change` applied to its spec (same resourceVersion), and warnings."""
    values, warnings = changed_vars(env, change, workflow=workflow)
    update: dict[str, object] = {"vars": values}
    if change.reconfigure is not None:
        update["reconfigure"] = change.reconfigure
    spec: EnvironmentSpec = env.spec.model_copy(update=update)
    return env.model_copy(update={"spec": spec}), warnings


def spec_diff(before: Environment, after: Environment) -> str:
    """`diff -u` of the YAML of both specs; empty when the spec does not change."""

    def lines(env: Environment) -> list[str]:
        text = yaml.safe_dump(env.to_wire().get("spec") or {}, sort_keys=False)
        return text.splitlines(keepends=True)

    ref = before.ref
    return "".join(
        difflib.unified_diff(
            lines(before), lines(after), fromfile=f"{ref} (live)", tofile=f"{ref} (new)"
        )
    )
