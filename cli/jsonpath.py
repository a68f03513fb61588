"""A small kubectl-style JSONPath: `{.a.b[0]}`, `[*]` fan-out, literal text and `{"\\n"}`. Pure."""

from __future__ import annotations

import json
import re
from typing import Any

from crds.errors import FieldError, ValidationError

_STEP = re.compile(r"([^.\[\]]+)|\[(\d+|\*)\]")
_FIELD = re.compile(r"\{([^{}]*)\}")


def _invalid(option: str, template: str, why: str) -> ValidationError:
    return ValidationError([FieldError(path=option, message=f"{template!r}: {why}")])


def _steps(path: str) -> list[tuple[str | None, str | None]]:
    expr = path.strip()
    if expr.startswith("{") and expr.endswith("}"):
        expr = expr[1:-1]
    expr = expr.strip().removeprefix("$")
    return [(m.group(1), m.group(2)) for m in _STEP.finditer(expr)]


def _step(value: Any, key: str | None, index: str | None) -> list[Any]:
    if key is not None:
        return [value[key]] if isinstance(value, dict) and key in value else []
    if index == "*":
        if isinstance(value, list):
            return list(value)
        return list(value.values()) if isinstance(value, dict) else []
    i = int(index or 0)
    return [value[i]] if isinstance(value, list) and i < len(value) else []


def select(document: Any, path: str) -> list[Any]:
    """Every value `path` reaches (several with `[*]`; none when a step is missing)."""
    values = [document]
    for key, index in _steps(path):
        values = [found for value in values for found in _step(value, key, index)]
    return values


def text_of(value: Any) -> str:
    """How a selected value prints: strings bare, objects and lists as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def check_template(template: str, *, option: str = "-o jsonpath") -> str:
    """Reject what this subset cannot do (range/end, unbalanced braces) with a way out."""
    if template.count("{") != template.count("}"):
        raise _invalid(option, template, "unbalanced { }")
    for expr in _FIELD.findall(template):
        word = expr.strip().split(" ")[0]
        if word in ("range", "end", "if", "else"):
            raise _invalid(
                option, template, f"`{word}` is not supported; use -o json and a JSON tool (jq)"
            )
    return template


def render(document: Any, template: str) -> str:
    """Fill every `{expr}` of `template` from `document`; text outside braces is kept."""
    out: list[str] = []
    pos = 0
    for match in _FIELD.finditer(template):
        out.append(template[pos : match.start()])
        expr = match.group(1).strip()
        if expr[:1] in ('"', "'"):
            out.append(json.loads('"' + expr[1:-1] + '"'))
        else:
            out.append(" ".join(text_of(v) for v in select(document, expr)))
        pos = match.end()
    out.append(template[pos:])
    return "".join(out)
