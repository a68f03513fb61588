"""`--for` expressions of `o2 wait` (condition=, jsonpath=, delete) and a small JSONPath. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cli.jsonpath import select
from crds.duration import parse_duration
from crds.errors import FieldError, O2Error, ValidationError

MISSING = object()


def _invalid(spec: str, why: str) -> ValidationError:
    return ValidationError([FieldError(path="--for", message=f"{spec!r}: {why}")])


def jsonpath_get(document: Any, path: str) -> Any:
    """The one value `{.status.state}` reaches in a JSON value, or MISSING."""
    values = select(document, path)
    return values[0] if values else MISSING


def _text(value: Any) -> str:
    if value is MISSING or value is None:
        return "<none>"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass(frozen=True)
class Outcome:
    done: bool
    seen: str
    """What was observed, for the timeout message (e.g. `Ready=False (reason: Deploying)`)."""


@dataclass(frozen=True)
class WaitFor:
    """One parsed `--for`: what to look at, and the value that ends the wait."""

    mode: str  # "condition" | "jsonpath" | "delete"
    target: str = ""
    expected: str | None = None

    def describe(self) -> str:
        if self.mode == "delete":
            return "delete"
        if self.mode == "condition":
            return f"condition={self.target}={self.expected}"
        suffix = f"={self.expected}" if self.expected is not None else ""
        return f"jsonpath={self.target}{suffix}"

    def check(self, document: dict[str, Any] | None) -> Outcome:
        if self.mode == "delete":
            return Outcome(document is None, "deleted" if document is None else "still present")
        if document is None:
            return Outcome(False, "object not found")
        if self.mode == "condition":
            return self._check_condition(document)
        value = jsonpath_get(document, self.target)
        seen = f"{self.target}={_text(value)}"
        if self.expected is None:
            return Outcome(value is not MISSING and value not in (None, "", [], {}), seen)
        return Outcome(_text(value) == self.expected, seen)

    def _check_condition(self, document: dict[str, Any]) -> Outcome:
        conditions = (document.get("status") or {}).get("conditions") or []
        for cond in conditions:
            if isinstance(cond, dict) and str(cond.get("type", "")).lower() == self.target.lower():
                status = str(cond.get("status", ""))
                reason = cond.get("reason") or ""
                message = cond.get("message") or ""
                detail = ", ".join(x for x in (reason, message) if x)
                seen = f"{cond.get('type')}={status}" + (f" ({detail})" if detail else "")
                return Outcome(status.lower() == (self.expected or "true").lower(), seen)
        return Outcome(False, f"no {self.target} condition yet")


def parse_wait_for(spec: str) -> WaitFor:
    """`condition=Ready[=false]`, `jsonpath='{.status.state}'=RUNNING`, or `delete`."""
    text = spec.strip()
    if text == "delete":
        return WaitFor("delete")
    mode, sep, rest = text.partition("=")
    if not sep or not rest:
        raise _invalid(spec, "use condition=NAME[=VALUE], jsonpath='{.path}'[=VALUE] or delete")
    if mode == "condition":
        name, _, value = rest.partition("=")
        return WaitFor("condition", name, value or "True")
    if mode == "jsonpath":
        return _parse_jsonpath(spec, rest)
    raise _invalid(spec, f"unknown kind of wait {mode!r}")


def _parse_jsonpath(spec: str, rest: str) -> WaitFor:
    rest = rest.strip()
    if rest[:1] in ("'", '"'):
        end = rest.find(rest[0], 1)
        if end < 0:
            raise _invalid(spec, "unbalanced quote")
        path, tail = rest[1:end], rest[end + 1 :]
    else:
        close = rest.find("}")
        path, tail = (rest[: close + 1], rest[close + 1 :]) if close >= 0 else (rest, "")
        if close < 0 and "=" in rest:
            path, _, value = rest.partition("=")
            tail = "=" + value
    if not path.strip().strip("{}").strip():
        raise _invalid(spec, "empty JSONPath")
    if tail and not tail.startswith("="):
        raise _invalid(spec, "expected '=VALUE' after the JSONPath")
    expected = tail[1:] if tail else None
    return WaitFor("jsonpath", path, expected.strip("'\"") if expected is not None else None)


class WaitTimeoutError(O2Error):
    """`o2 wait` gave up: says what it waited for and what it saw last."""

    def __init__(self, ref: str, *, wait_for: WaitFor, seen: str, timeout: float) -> None:
        super().__init__(
            f"timed out after {timeout:g}s waiting for {wait_for.describe()} on {ref}; "
            f"last seen: {seen}"
        )


def parse_timeout(text: str) -> float:
    """`30s`, `2m`, `500ms` or plain seconds; 0 = check once; negative = a week."""
    value = text.strip()
    try:
        seconds = float(value)
    except ValueError:
        negative = value.startswith("-")
        try:
            seconds = parse_duration(value.lstrip("-"))
        except ValueError as exc:
            raise ValidationError([FieldError(path="--timeout", message=str(exc))]) from exc
        seconds = -seconds if negative else seconds
    return 7 * 86400.0 if seconds < 0 else seconds
