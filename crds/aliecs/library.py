"""The AliECS function library of the template sandbox, for both dialects. Pure: no I/O.

Context-free helpers are globals of every template (crds.templating): `aliecs` (the operators the
translation of crds.aliecs.expr relies on), `util` (SuffixInRange, Dump, Nullable; PrefixedOverride
needs a role's variables), `dpl` (refused: it needs the O2 software). `strings` and `json` are in
crds.templatehelpers. Functions that need the environment (`uid.New`, `Parent()`/`Up(n)`,
`inventory.*`, `config.Resolve`, `runtime.*`, `util.PrefixedOverride`) are built per role by
crds.aliecs.context and reach a template through the role's scope.
"""

from __future__ import annotations

import math
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
_QUANTIFIER = re.compile(r"(?:[*+?]|\{\d*(?:,\d*)?\})[?+]?")


class Aliecs(Namespace):
    """expr-lang's operators where Jinja2's differ (see crds.aliecs.expr)."""

    @staticmethod
    def add(left: object, right: object) -> object:
        """expr-lang `+` with AliECS's overload: nil counts as an empty string; texts join,
        numbers add, lists concatenate; anything else is an error, as in expr-lang."""
        left = "" if left is None else left
        right = "" if right is None else right
        if isinstance(left, str) or isinstance(right, str):
            if not (isinstance(left, str) and isinstance(right, str)):
                raise TypeError(f"cannot add {_type(left)} and {_type(right)}")
            check_size(len(left) + len(right))
            return left + right
        if _number(left) and _number(right):
            return left + right  # type: ignore[operator]
        if isinstance(left, list | tuple) and isinstance(right, list | tuple):
            check_size(len(left) + len(right))
            return [*left, *right]
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
        exponent = 1 + quantifiers
        if exponent * math.log2(len(subject) + 2) < 62:
            charge((len(subject) + 1) ** exponent + len(regex))
        else:
            charge(1 << 62)
        return re.search(regex, subject) is not None


def check_pattern(pattern: str) -> int:
    """The number of quantifiers of `pattern`, whose search then takes at most
    len(text) ** (1 + quantifiers) steps (the caller charges that to the meter).

    TemplateBudgetError for what could take longer (exponential time): a quantified group that
    holds a quantifier or an alternative (`(a+)+`, `(a|ab)*`), back references and conditionals;
    and past MAX_PATTERN characters. ValueError when it is no regular expression.
    """
    if len(pattern) > MAX_PATTERN:
        raise TemplateBudgetError(f"pattern is {len(pattern)} long (limit {MAX_PATTERN})")
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"bad regular expression {pattern!r}: {exc}") from exc
    return _Scan(pattern).quantifiers()


class _Scan:
    """One pass over a (valid) pattern: groups, quantifiers, what nests in what."""

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self.at = 0
        self.count = 0
        self.groups = [False]
        """Per open group: whether it holds a quantifier or an alternative."""

    def quantifiers(self) -> int:
        pattern = self.pattern
        while self.at < len(pattern):
            char = pattern[self.at]
            if char == "\\":
                if pattern[self.at + 1 : self.at + 2] in set("123456789"):
                    self.refuse("refers back to a group")
                self.at += 2
            elif char == "[":
                self.at = _class_end(pattern, self.at)
            elif char == "(":
                self.open()
            elif char == ")":
                self.at += 1
                inner = self.groups.pop()
                if self.quantifier():
                    if inner:
                        self.refuse("repeats a group holding a repetition or '|'")
                else:
                    self.groups[-1] = self.groups[-1] or inner
            elif not self.quantifier():
                self.groups[-1] = self.groups[-1] or char == "|"
                self.at += 1
        return self.count

    def open(self) -> None:
        rest = self.pattern[self.at + 1 :]
        if rest.startswith(("?P=", "?(")):
            self.refuse("refers back to a group")
        self.groups.append(False)
        self.at += 2 if rest.startswith("?") else 1

    def quantifier(self) -> bool:
        """Past the quantifier at `at` (counted), or False when there is none."""
        match = _QUANTIFIER.match(self.pattern, self.at)
        if match is None:
            return False
        self.at = match.end()
        self.count += 1
        self.groups[-1] = True
        return True

    def refuse(self, why: str) -> None:
        raise TemplateBudgetError(
            f"pattern {self.pattern!r} {why}: its search time would have no bound"
        )


def _class_end(pattern: str, start: int) -> int:
    """The index after the character class opening at `start`."""
    at = start + 1
    if pattern[at : at + 1] == "^":
        at += 1
    if pattern[at : at + 1] == "]":
        at += 1
    while at < len(pattern) and pattern[at] != "]":
        at += 2 if pattern[at] == "\\" else 1
    return at + 1


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


class Unshipped(Namespace):
    """An AliECS integration plugin o2 does not ship (`odc`, `trg`, `bookkeeping`, ...), as a
    template object: any function of it is refused with the reason, instead of an undefined
    name."""

    def __init__(self, plugin: str) -> None:
        self._plugin = plugin

    def __getattr__(self, name: str) -> object:
        if name.startswith("_"):
            raise AttributeError(name)
        plugin = self._plugin

        def refused(*args: object) -> str:
            raise TemplateFunctionError(
                f"{plugin}.{name}({', '.join(_short(a) for a in args)}) belongs to AliECS's "
                f"{plugin} integration plugin, which o2 does not ship: disable the roles that "
                f'need it (e.g. {plugin}_enabled: "false") or install a plugin providing it'
            )

        return refused


UNSHIPPED_PLUGINS = ("odc", "trg", "bookkeeping", "ccdb", "ddsched", "kafka", "lhc")
"""AliECS's integration plugins whose template functions o2 does not provide."""


def _decimal(text: str) -> bool:
    return text.isascii() and text.lstrip("+-").isdigit()


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _type(value: object) -> str:
    return "text" if isinstance(value, str) else type(value).__name__


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
