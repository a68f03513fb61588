"""The AliECS function library of the template sandbox, for both dialects. Pure: no I/O.

Context-free helpers are globals of every template (crds.templating): `aliecs` (the operators the
translation of crds.aliecs.expr relies on), `util` (SuffixInRange, Dump, Nullable; PrefixedOverride
needs a role's variables), `dpl` (refused: it needs the O2 software). `strings` and `json` are in
crds.templatehelpers. Functions that need the environment (`uid.New`, `Parent()`/`Up(n)`,
`inventory.*`, `config.Resolve`, `runtime.*`, `util.PrefixedOverride`) are built per role by
crds.aliecs.context and reach a template through the role's scope.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import jinja2

from crds.templatehelpers import (
    Namespace,
    TemplateBudgetError,
    TemplateFunctionError,
    as_text,
    check_size,
)
from crds.templatework import charge

__all__ = ["Aliecs", "Dpl", "Util", "check_pattern", "prefixed_override"]

MAX_PATTERN = 256
"""Longest `matches` pattern."""
_NESTED = re.compile(r"\((?:[^()\\]|\\.)*[*+?{|](?:[^()\\]|\\.)*\)\s*[*+?{]")
_BACKREF = re.compile(r"\\[1-9]|\(\?P=")
_QUANTIFIERS = re.compile(r"(?<!\\)[*+{]|(?<![\\(])\?")


class Aliecs(Namespace):
    """expr-lang's operators where Jinja2's differ (see crds.aliecs.expr)."""

    @staticmethod
    def add(left: object, right: object) -> object:
        """expr-lang `+` with AliECS's overload: nil counts as an empty string."""
        left = "" if left is None else left
        right = "" if right is None else right
        if isinstance(left, str) or isinstance(right, str):
            if not (isinstance(left, str) and isinstance(right, str)):
                raise TypeError(f"cannot add {_type(left)} and {_type(right)}")
            check_size(len(left) + len(right))
            return left + right
        if _number(left) and _number(right):
            return left + right  # type: ignore[operator]
        raise TypeError(f"cannot add {_type(left)} and {_type(right)}")

    @staticmethod
    def test(value: object) -> bool:
        """A condition as expr-lang reads it: a boolean (or its text), nothing else."""
        if isinstance(value, bool):
            return value
        text = value.strip().lower() if isinstance(value, str) else None
        if text in ("true", "false"):
            return text == "true"
        raise TypeError(f"a condition must be true or false, not {_short(value)}")

    @staticmethod
    def coalesce(value: object, fallback: object) -> object:
        """`a ?? b`: `b` when `a` is nil or undefined."""
        if value is None or isinstance(value, jinja2.Undefined):
            return fallback
        return value

    @staticmethod
    def matches(text: object, pattern: object) -> bool:
        """`a matches b`: a regular expression search, bounded (see `check_pattern`)."""
        subject, regex = as_text(text), as_text(pattern)
        quantifiers = check_pattern(regex)
        charge(len(subject) ** (1 + min(quantifiers, 3)) + len(regex))
        return re.search(regex, subject) is not None


def check_pattern(pattern: str) -> int:
    """The number of quantifiers of `pattern`; TemplateBudgetError for a pattern whose search
    could take more than polynomial time (a repeated group holding a repetition or an
    alternative, a back reference) or longer than MAX_PATTERN. The caller charges the meter
    len(text) ** (1 + quantifiers), the order of the search's worst case."""
    if len(pattern) > MAX_PATTERN:
        raise TemplateBudgetError(f"pattern is {len(pattern)} long (limit {MAX_PATTERN})")
    if _NESTED.search(pattern) or _BACKREF.search(pattern):
        raise TemplateBudgetError(
            f"pattern {pattern!r} repeats a group holding a repetition or '|', or refers back: "
            "its search time would have no bound"
        )
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"bad regular expression {pattern!r}: {exc}") from exc
    return len(_QUANTIFIERS.findall(pattern))


def prefixed_override(variables: Mapping[str, object], name: str, prefix: str) -> str:
    """`util.PrefixedOverride(name, prefix)`: `<prefix>_<name>` if set, else `name`, else empty;
    a value that is `none` or blank counts as unset (AliECS's rule)."""
    for key in (f"{prefix}_{name}", name):
        if key in variables:
            value = as_text(variables[key])
            if value != "none" and value.strip():
                return value
    return ""


class Util(Namespace):
    """`util.*` without a role: everything but PrefixedOverride."""

    @staticmethod
    def SuffixInRange(text: object, prefix: object, low: object, high: object) -> str:
        """`true` when `text` is `prefix` then a number within [low, high], else `false`
        (as text, as AliECS returns it)."""
        value, start = as_text(text), as_text(prefix)
        suffix = value.removeprefix(start)
        if suffix == value or not _decimal(suffix):
            return "false"
        if not (_decimal(as_text(low)) and _decimal(as_text(high))):
            return "false"
        inside = int(as_text(low)) <= int(suffix) <= int(as_text(high))
        return "true" if inside else "false"

    @staticmethod
    def Dump(value: object, path: object) -> object:
        """AliECS writes `value` to the file `path` (a debugging aid): o2 never writes files from
        a template, so it only returns `value`."""
        return value

    @staticmethod
    def Nullable(value: object) -> str:
        return "" if value is None else as_text(value)

    def PrefixedOverride(self, name: object, prefix: object) -> str:
        raise TemplateFunctionError(
            "util.PrefixedOverride needs the variables of a role: use it in a Workflow or "
            "TaskClass value"
        )


class Dpl(Namespace):
    """`dpl.Generate*`: refused with the reason."""

    def __getattr__(self, name: str) -> object:
        if name.startswith("_"):
            raise AttributeError(name)

        def refused(*args: object) -> str:
            raise TemplateFunctionError(
                f"dpl.{name}({', '.join(_short(a) for a in args)}) needs the O2 software (DPL) on "
                "the controller host, which o2 does not have: generate the workflow with AliECS "
                "and commit it to the repository instead"
            )

        return refused


def _decimal(text: str) -> bool:
    return text.isascii() and text.lstrip("+-").isdigit()


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _type(value: object) -> str:
    return "text" if isinstance(value, str) else type(value).__name__


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
