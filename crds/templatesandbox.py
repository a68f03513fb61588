"""The Jinja2 sandbox engine behind crds.templating: which attributes, filters, tests and
globals a template may reach, and the operator checks that keep a render bounded (see
crds.templating's docstring for the whole defence). Pure: no I/O."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import cast

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from crds.aliecs.library import UNSHIPPED_PLUGINS, Aliecs, Dpl, Unshipped, Util
from crds.templatehelpers import (
    JsonHelper,
    Namespace,
    Strings,
    TemplateBudgetError,
    as_list,
    as_text,
    bounded_join,
    bounded_range,
    bounded_replace,
    check_size,
    checked_sum,
    from_json,
    is_truthy,
    sized,
    to_json,
)
from crds.templatework import CALL, charge, cost, cost_of_call, metered_call

__all__ = ["ENGINE", "ENGINES", "Sandbox"]

SAFE_METHODS: dict[type, frozenset[str]] = {
    str: frozenset(
        [
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
        ]
    ),
    dict: frozenset({"get", "keys", "values", "items"}),
    list: frozenset({"index", "count"}),
    tuple: frozenset({"index", "count"}),
}
FILTERS = tuple(
    [
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
    ]
)


class Sandbox(SandboxedEnvironment):
    """The hardened sandbox (see the module docstring)."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def is_safe_attribute(self, obj: object, attr: str, value: object) -> bool:
        if not super().is_safe_attribute(obj, attr, value):
            return False
        if isinstance(obj, Namespace | jinja2.ChainableUndefined):  # probes: any name
            return True
        allowed = next((v for k, v in SAFE_METHODS.items() if isinstance(obj, k)), None)
        return allowed is not None and attr in allowed

    def call(
        __self,
        __context: jinja2.runtime.Context,
        __obj: object,
        *args: object,
        **kwargs: object,
    ) -> object:
        """Every function and method call of a template: charged with what it reads and builds."""
        result = SandboxedEnvironment.call(__self, __context, __obj, *args, **kwargs)
        charge(cost_of_call(args, kwargs) + cost(result))
        return result

    def getitem(self, obj: object, argument: object) -> object:
        result = super().getitem(obj, argument)
        if isinstance(argument, slice):
            charge(cost(result))
        return result

    def wrap_str_format(self, value: object) -> None:
        """`str.format` / `format_map` are refused: a field width would allocate without bound."""
        return None

    def call_binop(
        self, context: jinja2.runtime.Context, operator: str, left: object, right: object
    ) -> object:
        if operator == "*":
            if isinstance(left, int) and isinstance(right, str | list | tuple):
                left, right = right, left
            if isinstance(left, str | list | tuple) and isinstance(right, int):
                check_size(len(left) * right)
            elif isinstance(left, int) and isinstance(right, int):
                check_size((left.bit_length() + right.bit_length()) / 8)
        elif operator == "+":
            check_size(sized(left) + sized(right))
        elif operator == "%" and isinstance(left, str):
            raise TemplateBudgetError("'%' string formatting is not allowed")
        elif operator == "**" and isinstance(left, int | float) and isinstance(right, int | float):
            check_size(abs(right) * math.log2(abs(left) + 2) / 8)
        result = super().call_binop(context, operator, left, right)
        charge(CALL + cost(result))
        return result


def engine_globals() -> dict[str, object]:
    return {
        "range": bounded_range,
        "dict": dict,
        "len": len,
        "lower": lambda s: str(s).lower(),
        "upper": lambda s: str(s).upper(),
        "int": int,
        "str": as_text,
        "bool": lambda s: is_truthy(as_text(s)),
        "json": JsonHelper(),
        "from_json": from_json,
        "FromJson": from_json,
        "to_json": to_json,
        "ToJson": to_json,
        "as_list": as_list,
        "strings": Strings(),
        "util": Util(),
        "dpl": Dpl(),
        **{name: Unshipped(name) for name in UNSHIPPED_PLUGINS},
        "aliecs": Aliecs(),
    }


def make_engine(*, keep_trailing_newline: bool) -> Sandbox:
    engine = Sandbox(
        optimized=False,  # no constant folding: all the work of a template is done (and metered)
        # when it renders, none when it compiles
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        finalize=as_text,
        cache_size=0,
        keep_trailing_newline=keep_trailing_newline,
    )
    filters: dict[str, Callable[..., object]] = {name: engine.filters[name] for name in FILTERS}
    filters.update(
        replace=bounded_replace,
        join=bounded_join,
        sum=checked_sum,
        string=as_text,
        tojson=to_json,
        fromjson=from_json,
        from_json=from_json,
        as_list=as_list,
        truthy=is_truthy,
    )
    engine.filters = {name: metered_call(f, name=name) for name, f in filters.items()}
    tests = cast(dict[str, Callable[..., object]], engine.tests)
    engine.tests = {name: metered_call(t, name=name) for name, t in tests.items()}
    engine.globals = engine_globals()
    return engine


ENGINE = make_engine(keep_trailing_newline=False)
"""The engine of workflow values; its `globals` are the helpers every template sees."""
ENGINES = {False: ENGINE, True: make_engine(keep_trailing_newline=True)}
