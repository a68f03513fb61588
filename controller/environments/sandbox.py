"""The hardened Jinja2 sandbox behind workflow templates, and its helpers. Pure: no I/O.

How a hostile template is kept from hanging or exhausting the controller:
- Jinja2's SandboxedEnvironment: no `_`-attributes, no Python internals, no imports, no files.
  On top of it, attribute access is allowed only for a short list of harmless `str`, `dict` and
  `list` methods and for the helper namespaces below; `str.format` is refused.
- Only expressions: a template may hold `{{ }}` output and plain text, nothing else (no `{% %}`
  statements: no loops, macros, assignments). Its parsed tree may have at most MAX_NODES nodes and
  its source at most MAX_SOURCE characters.
- Bounded values: `range()` yields at most MAX_RANGE items, `~` joins at most MAX_CONCAT values;
  `*`, `+`, `**` and the `join`, `replace`, `tojson` helpers check the size of their result
  before computing it; `%` string formatting is refused; a rendered value longer than
  MAX_OUTPUT characters is an error.
- Filters and globals are an allow-list (no `random`, `lipsum`, `center`, `indent`, `format`...).
- Bounded work across variables (MAX_RESOLVES, MAX_DEPTH) is enforced by template.Scope.

Helpers for AliECS-style templates: `as_list(x)` (JSON list or comma list), `json(text)` /
`FromJson` / `from_json` (parse), `ToJson` / `to_json` / `json.Marshal` (dump), `len`, `lower`,
`upper`, `int`, `str`, `bool` (truthiness as `enabled` reads it), `strings.ToUpper` and friends;
filters `as_list`, `fromjson`, `truthy` besides the allowed Jinja2 ones.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.sandbox import SandboxedEnvironment

MAX_SOURCE = 4096
MAX_NODES = 400
MAX_OUTPUT = 1 << 20
MAX_CONCAT = 16
MAX_RANGE = 10_000

FALSE_WORDS = frozenset({"", "false", "0", "no", "off", "none", "null"})

_SAFE_METHODS: dict[type, frozenset[str]] = {
    str: frozenset(
        {
            "lower",
            "upper",
            "strip",
            "lstrip",
            "rstrip",
            "split",
            "startswith",
            "endswith",
            "title",
            "capitalize",
            "isdigit",
            "isalpha",
            "count",
            "find",
        }
    ),
    dict: frozenset({"get", "keys", "values", "items"}),
    list: frozenset({"index", "count"}),
    tuple: frozenset({"index", "count"}),
}
_ALLOWED_NODES = (
    nodes.Template,
    nodes.Output,
    nodes.TemplateData,
    nodes.Name,
    nodes.Const,
    nodes.List,
    nodes.Tuple,
    nodes.Dict,
    nodes.Pair,
    nodes.Getattr,
    nodes.Getitem,
    nodes.Slice,
    nodes.Call,
    nodes.Keyword,
    nodes.Filter,
    nodes.Test,
    nodes.CondExpr,
    nodes.Compare,
    nodes.Operand,
    nodes.BinExpr,
    nodes.UnaryExpr,
    nodes.Concat,
)
_FILTERS = (
    "abs",
    "capitalize",
    "count",
    "d",
    "default",
    "dictsort",
    "first",
    "float",
    "int",
    "items",
    "last",
    "length",
    "list",
    "lower",
    "map",
    "max",
    "min",
    "reject",
    "reverse",
    "round",
    "select",
    "sort",
    "title",
    "trim",
    "unique",
    "upper",
)


class TemplateBudgetError(Exception):
    """A template went over one of the bounds above; never caught inside a render."""


def is_truthy(text: str) -> bool:
    """How `enabled` and boolean-ish values read: "false", "0", "", "no", "off" are false."""
    return text.strip().lower() not in FALSE_WORDS


def as_list(value: object) -> list[str]:
    """A JSON list (`'["TPC", "ITS"]'`), a comma-separated text (`TPC,ITS`) or a list, as strings.

    Empty text is the empty list; JSON scalars inside a list become their text.
    """
    if isinstance(value, list | tuple):
        return [_text(v) for v in value]
    text = str(value).strip()
    if not text:
        return []
    if text.startswith("["):
        try:
            items = json.loads(text)
        except ValueError:
            items = None
        if isinstance(items, list):
            return [_text(v) for v in items]
    return [part.strip() for part in text.split(",") if part.strip()]


def _text(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, list | tuple | dict):
        return _to_json(value)
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


def _sized(value: object) -> int:
    return len(value) if isinstance(value, str | list | tuple) else 1


def _bounded_range(*args: int) -> range:
    values = range(*args)
    if len(values) > MAX_RANGE:
        raise TemplateBudgetError(f"range of {len(values)} items (limit {MAX_RANGE})")
    return values


def _replace(text: str, old: str, new: str) -> str:
    text, old, new = str(text), str(old), str(new)
    hits = text.count(old) if old else len(text) + 1
    check_size(len(text) + hits * max(0, len(new) - len(old)))
    return text.replace(old, new)


def _from_json(text: object) -> Any:
    try:
        return json.loads(str(text))
    except ValueError as exc:
        raise ValueError(f"not JSON: {str(text)[:80]!r}") from exc


def _to_json(value: object) -> str:
    check_size(_estimate(value))
    return json.dumps(value, separators=(",", ":"), sort_keys=True, default=str)


def _join(value: object, separator: str = "") -> str:
    items = [_text(v) for v in _iterable(value)]
    check_size(sum(len(i) for i in items) + len(separator) * len(items))
    return str(separator).join(items)


def _sum(value: object, start: float = 0) -> float:
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


class _Strings:
    """AliECS-style `strings.*` helpers."""

    ToUpper = staticmethod(lambda s: str(s).upper())
    ToLower = staticmethod(lambda s: str(s).lower())
    TrimSpace = staticmethod(lambda s: str(s).strip())
    TrimQuotes = staticmethod(lambda s: str(s).strip().strip("\"'"))
    IsTruthy = staticmethod(lambda s: is_truthy(str(s)))
    IsFalsy = staticmethod(lambda s: not is_truthy(str(s)))
    Atoi = staticmethod(lambda s: int(str(s).strip()))
    Itoa = staticmethod(lambda i: str(int(i)))


class _Json:
    """`json(text)` parses; AliECS-style `json.Marshal`, `json.Unmarshal` and friends."""

    def __call__(self, text: object) -> Any:
        return _from_json(text)

    Marshal = staticmethod(_to_json)
    Serialize = staticmethod(_to_json)
    Unmarshal = staticmethod(_from_json)
    Deserialize = staticmethod(_from_json)


class _Sandbox(SandboxedEnvironment):
    """The hardened sandbox (see the module docstring)."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if not super().is_safe_attribute(obj, attr, value):
            return False
        if isinstance(obj, _Strings | _Json):
            return True
        allowed = next((v for k, v in _SAFE_METHODS.items() if isinstance(obj, k)), None)
        return allowed is not None and attr in allowed

    def wrap_str_format(self, value: Any) -> None:
        """`str.format` / `format_map` are refused: a field width would allocate without bound."""
        return None

    def call_binop(
        self, context: jinja2.runtime.Context, operator: str, left: Any, right: Any
    ) -> Any:
        if operator == "*":
            if isinstance(left, int) and isinstance(right, str | list | tuple):
                left, right = right, left
            if isinstance(left, str | list | tuple) and isinstance(right, int):
                check_size(len(left) * right)
        elif operator == "+":
            check_size(_sized(left) + _sized(right))
        elif operator == "%" and isinstance(left, str):
            raise TemplateBudgetError("'%' string formatting is not allowed")
        elif operator == "**" and isinstance(left, int | float) and isinstance(right, int | float):
            check_size(abs(right) * math.log2(abs(left) + 2) / 8)
        return super().call_binop(context, operator, left, right)


def _finalize(value: object) -> object:
    return _text(value)


def _make_engine() -> _Sandbox:
    engine = _Sandbox(
        undefined=jinja2.StrictUndefined, autoescape=False, finalize=_finalize, cache_size=0
    )
    engine.filters = {name: engine.filters[name] for name in _FILTERS}
    engine.filters.update(
        replace=_replace,
        join=_join,
        sum=_sum,
        string=_text,
        tojson=_to_json,
        fromjson=_from_json,
        from_json=_from_json,
        as_list=as_list,
        truthy=is_truthy,
    )
    engine.globals = {
        "range": _bounded_range,
        "dict": dict,
        "len": len,
        "lower": lambda s: str(s).lower(),
        "upper": lambda s: str(s).upper(),
        "int": int,
        "str": _text,
        "bool": lambda s: is_truthy(_text(s)),
        "json": _Json(),
        "from_json": _from_json,
        "FromJson": _from_json,
        "to_json": _to_json,
        "ToJson": _to_json,
        "as_list": as_list,
        "strings": _Strings(),
    }
    return engine


ENGINE = _make_engine()


@lru_cache(maxsize=8192)
def compile_template(source: str) -> jinja2.Template:
    """Parse, check the allowed shape, compile. Raises ValueError with the reason."""
    if len(source) > MAX_SOURCE:
        raise ValueError(f"template is {len(source)} characters long (limit {MAX_SOURCE})")
    try:
        tree = ENGINE.parse(source)
    except jinja2.TemplateSyntaxError as exc:
        raise ValueError(f"syntax error: {exc.message}") from exc
    count = 0
    joined = 0
    for node in tree.find_all(nodes.Node):
        count += 1
        if not isinstance(node, _ALLOWED_NODES):
            raise ValueError(
                f"{type(node).__name__} is not allowed: templates hold only {{{{ expressions }}}}"
            )
        if isinstance(node, nodes.Concat):
            joined += len(node.nodes)
    if joined > MAX_CONCAT:
        raise ValueError(f"too many '~' operands ({joined}, limit {MAX_CONCAT})")
    if count > MAX_NODES:
        raise ValueError(f"expression too large ({count} nodes, limit {MAX_NODES})")
    try:
        return ENGINE.from_string(tree)
    except jinja2.TemplateSyntaxError as exc:  # also unknown filters and tests
        raise ValueError(exc.message or str(exc)) from exc
