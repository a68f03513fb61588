"""Type checks of user values against a Workflow's public variable declarations. Pure.

AliECS's GUI offers `!public` variables with a type (string, number, bool, list, map) and
sometimes a list of allowed values; o2 keeps them as `Workflow.spec.variables`
(crds.kinds.workflow.VariableSpec). A value an operator gives (Environment `spec.vars`, `o2
create env --var`) is checked here, the same way wherever it is checked: by `o2 apply` and
`o2 create env` before anything is written, and by the expansion (the environment controller,
which also sees Environments written by GitOps or other clients). Values are always text, as
in AliECS: lists and maps are JSON, booleans `true`/`false`. A value holding a `{{ }}`
template is checked once rendered (by the expansion), never as written.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping

from crds.errors import FieldError
from crds.kinds.workflow import VariableSpec, Workflow

_SHAPES = {
    "string": "any text",
    "number": "a number such as 3 or 0.5",
    "bool": "true or false",
    "list": 'a JSON list such as ["TPC","ITS"]',
    "map": 'a JSON object such as {"key":"value"}',
}


def is_template(value: str) -> bool:
    """Whether `value` is rendered before use (and so checked only once rendered)."""
    return "{{" in value or "{%" in value


def value_problem(spec: VariableSpec, value: str) -> str | None:
    """What is wrong with `value` for a variable declared as `spec`, or None when it fits."""
    parsed, wrong_type = _parse(spec.type, value)
    if wrong_type:
        return f"expected {spec.type} ({_SHAPES[spec.type]}), got {value!r}" + _allowed(spec)
    if not spec.values:
        return None
    items = parsed if isinstance(parsed, list) else [value]
    outside = [text for text in map(_item_text, items) if text not in spec.values]
    if outside:
        return f"{', '.join(map(repr, outside))} not allowed" + _allowed(spec)
    return None


def check_values(
    workflow: Workflow, values: Mapping[str, str], *, kind: str = "Environment", name: str = ""
) -> list[FieldError]:
    """One FieldError per value in `values` (spec.vars) that a declaration of `workflow`
    refuses; keys `role.path:variable` are checked as `variable`; templates are skipped."""
    declared = workflow.spec.variables
    errors: list[FieldError] = []
    for key, value in values.items():
        variable = key.rsplit(":", 1)[-1]
        spec = declared.get(variable)
        if spec is None or is_template(value):
            continue
        problem = value_problem(spec, value)
        if problem is not None:
            errors.append(
                FieldError(
                    path=f"spec.vars.{key}",
                    message=f"public variable {variable!r} of workflow "
                    f"{workflow.name!r}: {problem}",
                    kind=kind,
                    name=name,
                )
            )
    return errors


def _parse(kind: str, value: str) -> tuple[object, bool]:
    """(parsed value, whether `value` is not of type `kind`)."""
    text = value.strip()
    if kind == "number":
        try:
            return float(text), not math.isfinite(float(text))
        except ValueError:
            return None, True
    if kind == "bool":
        return text.lower(), text.lower() not in ("true", "false")
    if kind in ("list", "map"):
        try:
            parsed = json.loads(text)
        except ValueError:
            return None, True
        return parsed, not isinstance(parsed, list if kind == "list" else dict)
    return value, False


def _item_text(item: object) -> str:
    return item if isinstance(item, str) else json.dumps(item)


def _allowed(spec: VariableSpec) -> str:
    return f"; allowed values: {', '.join(spec.values)}" if spec.values else ""
