"""Helpers and value bounds of the o2 template sandbox (crds.templating). Pure: no I/O.

Helpers for AliECS-style templates: `as_list(x)` (JSON list or comma list), `json(text)` /
`FromJson` / `from_json` (parse), `ToJson` / `to_json` / `json.Marshal` (dump), `strings.ToUpper`
and friends, `is_truthy` (how `enabled` reads a value). Every helper that can build a large value
checks the size of its result before computing it (`check_size`, MAX_OUTPUT) and raises
TemplateBudgetError, which no render catches.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

MAX_OUTPUT = 1 << 20
"""Largest rendered value (and largest intermediate string or list), in characters."""
MAX_RANGE = 10_000

FALSE_WORDS = frozenset({"", "false", "0", "no", "off", "none", "null"})


class TemplateBudgetError(Exception):
    """A template went over one of the sandbox bounds; never caught inside a render."""


def is_truthy(text: str) -> bool:
    """How `enabled` and boolean-ish values read: "false", "0", "", "no", "off" are false."""
    return text.strip().lower() not in FALSE_WORDS


def as_list(value: object) -> list[str]:
    """A JSON list (`'["TPC", "ITS"]'`), a comma-separated text (`TPC,ITS`) or a list, as strings.

    Empty text is the empty list; JSON scalars inside a list become their text.
    """
    if isinstance(value, list | tuple):
        return [as_text(v) for v in value]
    text = str(value).strip()
    if not text:
        return []
    if text.startswith("["):
        try:
            items = json.loads(text)
        except ValueError:
            items = None
        if isinstance(items, list):
            return [as_text(v) for v in items]
    return [part.strip() for part in text.split(",") if part.strip()]


def as_text(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, list | tuple | dict):
        return to_json(value)
    return str(value)


def _estimate(value: object, budget: int = MAX_OUTPUT) -> int:
    """A lower bound of the JSON size of `value`, cut short once it passes `budget`."""
    if isinstance(value, str):
        return len(value) + 2
    if isinstance(value, dict):
        value = [*value.keys(), *value.values()]
    if not isinstance(value, list | tuple):
        return 8
    total = 2
    for item in value:
        total += 1 + _estimate(item, budget - total)
        if total > budget:
            break
    return total


def check_size(size: float) -> None:
    if size > MAX_OUTPUT:
        raise TemplateBudgetError(f"result would be {int(size)} long (limit {MAX_OUTPUT})")


def sized(value: object) -> int:
    return len(value) if isinstance(value, str | list | tuple) else 1


def bounded_range(*args: int) -> range:
    values = range(*args)
    if len(values) > MAX_RANGE:
        raise TemplateBudgetError(f"range of {len(values)} items (limit {MAX_RANGE})")
    return values


def bounded_replace(text: str, old: str, new: str) -> str:
    text, old, new = str(text), str(old), str(new)
    hits = text.count(old) if old else len(text) + 1
    check_size(len(text) + hits * max(0, len(new) - len(old)))
    return text.replace(old, new)


def from_json(text: object) -> object:
    try:
        return json.loads(str(text))
    except ValueError as exc:
        raise ValueError(f"not JSON: {str(text)[:80]!r}") from exc


def to_json(value: object) -> str:
    check_size(_estimate(value))
    return json.dumps(value, separators=(",", ":"), sort_keys=True, default=str)


def bounded_join(value: object, separator: str = "") -> str:
    items = [as_text(v) for v in _iterable(value)]
    check_size(sum(len(i) for i in items) + len(separator) * len(items))
    return str(separator).join(items)


def checked_sum(value: object, start: float = 0) -> float:
    total = start
    for item in _iterable(value):
        if not isinstance(item, int | float) or isinstance(item, bool):
            raise TypeError(f"sum adds numbers only, got {type(item).__name__}")
        total += item
    return total


def _iterable(value: object) -> list[object]:
    if isinstance(value, str):
        return list(value)
    if isinstance(value, dict):
        return list(value)
    if isinstance(value, list | tuple | range):
        return list(value)
    if isinstance(value, Iterable):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not a list")


class Namespace:
    """A helper namespace (`strings`, `json`, `util`...): the sandbox lets templates reach any
    public name of it (crds.templating)."""


class TemplateFunctionError(Exception):
    """A helper refused a call; its message is the whole reason (what to do included)."""


_TRUE_WORDS = frozenset({"true", "yes", "y", "1", "on", "ok"})
_FALSE_WORDS = frozenset({"false", "no", "n", "0", "off", "none"})


def is_true_word(value: object) -> bool:
    """AliECS's `strings.IsTruthy`: true, yes, y, 1, on, ok (any case, trimmed)."""
    return as_text(value).strip().lower() in _TRUE_WORDS


def is_false_word(value: object) -> bool:
    """AliECS's `strings.IsFalsy`: empty, false, no, n, 0, off, none (any case, trimmed)."""
    text = as_text(value).strip().lower()
    return not text or text in _FALSE_WORDS


def _atoi(value: object) -> int:
    """AliECS's `strings.Atoi`: 0 when the text is no integer (AliECS logs and returns 0)."""
    try:
        return int(as_text(value).strip())
    except ValueError:
        return 0


def _sort(value: object) -> object:
    """AliECS's `json.Sort`: a list as its items' texts, sorted; anything else unchanged."""
    if isinstance(value, list | tuple):
        return sorted(as_text(v) for v in value)
    return value


class Strings(Namespace):
    """AliECS's `strings.*`, with its semantics (configuration/template/stack.go)."""

    ToUpper = staticmethod(lambda s: as_text(s).upper())
    ToLower = staticmethod(lambda s: as_text(s).lower())
    TrimSpace = staticmethod(lambda s: as_text(s).strip())
    TrimQuotes = staticmethod(lambda s: as_text(s).strip('"'))
    IsTruthy = staticmethod(is_true_word)
    IsFalsy = staticmethod(is_false_word)
    Atoi = staticmethod(_atoi)
    Itoa = staticmethod(lambda i: str(int(i)))


class JsonHelper(Namespace):
    """`json(text)` parses; AliECS's `json.Marshal`, `json.Unmarshal`, `json.Sort` and friends."""

    def __call__(self, text: object) -> object:
        return from_json(text)

    Marshal = staticmethod(to_json)
    Serialize = staticmethod(to_json)
    Unmarshal = staticmethod(from_json)
    Deserialize = staticmethod(from_json)
    Sort = staticmethod(_sort)
