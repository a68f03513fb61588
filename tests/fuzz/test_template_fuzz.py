"""Fuzzing the template sandbox: random expressions of the allowed grammar render to a str or
fail with TemplateError, within a time and memory bound."""

from __future__ import annotations

import warnings

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from crds.errors import TemplateError
from crds.templating import EXPRESSION, PAYLOAD, Limits, render_template
from tests.fuzz.harness import bounded, fuzz

pytestmark = pytest.mark.fuzz

VARIABLES: dict[str, object] = {
    "n": 7,
    "big": 10**6,
    "text": "TPC, ITS,mft",
    "items": ["a", "b", "c"],
    "numbers": [3, 1, 2],
    "cfg": {"k": "v", "n": 2},
    "flag": "false",
}
NAMES = [*VARIABLES, "undefined_name", "range", "json", "strings"]
FILTERS = [
    "abs", "capitalize", "count", "d", "default('x')", "dictsort", "first", "float", "int",
    "items", "last", "length", "list", "lower", "map('upper')", "map('string')", "max", "min",
    "reject('odd')", "reverse", "round", "select('even')", "sort", "title", "trim", "unique",
    "upper", "replace('a', 'aaaa')", "join(',')", "sum", "string", "tojson", "fromjson",
    "from_json", "as_list", "truthy",
]  # fmt: skip
TESTS = ["defined", "undefined", "number", "string", "odd", "even", "divisibleby(3)", "none"]
BINOPS = ["+", "-", "*", "/", "//", "%", "**", "==", "!=", "<", ">=", "in", "and", "or", "~"]
HELPERS = [
    "range", "len", "lower", "upper", "int", "str", "bool", "json", "from_json", "FromJson",
    "to_json", "ToJson", "as_list", "strings.ToUpper", "strings.Atoi", "strings.Itoa",
    "strings.TrimQuotes", "json.Marshal", "json.Unmarshal",
]  # fmt: skip
METHODS = ["upper()", "split(',')", "strip()", "get('k')", "keys()", "items()", "count('a')"]

consts = st.one_of(
    st.integers(-3, 20).map(str),
    st.sampled_from(["1000000", "4000000", "10000", "2.5", "1e308", "true", "none", "0"]),
    st.text(alphabet='abc,[]{}"1 ', max_size=8).map(repr),
)
atoms = consts | st.sampled_from(NAMES)


def _compound(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    pair = st.tuples(inner, inner)
    return st.one_of(
        st.lists(inner, max_size=3).map(lambda xs: f"[{', '.join(xs)}]"),
        st.lists(inner, max_size=2).map(lambda xs: f"({', '.join(xs)},)"),
        inner.map(lambda x: f"{{'k': {x}}}"),
        st.tuples(inner, st.sampled_from(FILTERS)).map(lambda t: f"({t[0]})|{t[1]}"),
        st.tuples(inner, st.sampled_from(TESTS)).map(lambda t: f"({t[0]}) is {t[1]}"),
        st.tuples(inner, st.sampled_from(BINOPS), inner).map(lambda t: f"({t[0]}) {t[1]} ({t[2]})"),
        st.tuples(st.sampled_from(HELPERS), inner).map(lambda t: f"{t[0]}({t[1]})"),
        st.tuples(inner, st.sampled_from(METHODS)).map(lambda t: f"({t[0]}).{t[1]}"),
        pair.map(lambda t: f"({t[0]})[{t[1]}]"),
        pair.map(lambda t: f"({t[0]})[{t[1]}:]"),
        st.tuples(inner, inner, inner).map(lambda t: f"({t[0]}) if ({t[1]}) else ({t[2]})"),
        inner.map(lambda x: f"not ({x})"),
        inner.map(lambda x: f"-({x})"),
    )


expressions = st.recursive(atoms, _compound, max_leaves=24)


def check(source: str, limits: Limits = EXPRESSION) -> None:
    """A str or a TemplateError naming where it happened; nothing else, bounded."""
    with warnings.catch_warnings():
        # Jinja2 compiles to Python: `(0)[0:]` is a SyntaxWarning there (printed, not raised)
        warnings.simplefilter("ignore", SyntaxWarning)
        result, error = bounded(
            lambda: render_template(source, VARIABLES, where="roles[0].vars.x", limits=limits),
            seconds=2.0,
        )
    if error is None:
        assert isinstance(result, str)
    else:
        assert isinstance(error, TemplateError), f"{type(error).__name__}: {error}"
        assert "roles[0].vars.x" in str(error)


@given(expressions)
@fuzz(300)
@example("[1] * 1000000 ~ [2] * 1000000")
@example("(range(10000)|list) * 100")
@example("'a' * 1000000 ~ 'b' * 1000000 ~ 'c' * 1000000")
@example("('1' * 5000)|int")
@example("(2 ** 4000000)|string")
@example("'{}'.format(1)")
def test_random_expressions_render_or_fail_with_template_error(expression: str) -> None:
    check("{{ " + expression + " }}")


@given(st.lists(expressions, min_size=1, max_size=4), st.text(max_size=20))
@fuzz(100)
def test_payloads_of_several_expressions(parts: list[str], text: str) -> None:
    check(text.join("{{ " + p + " }}" for p in parts), limits=PAYLOAD)


@given(st.text(alphabet="{}%#()[]|~.'\"abn1 -+*", max_size=200))
@fuzz(200)
def test_random_template_text(source: str) -> None:
    check(source)


@given(st.integers(1, 1500), st.sampled_from(["(", "[", "-", "not ", "{'k': "]))
@fuzz(30)
@example(depth=1500, opener="(")
@example(depth=1500, opener="[")
@example(depth=2000, opener="-")
def test_deeply_nested_expressions(depth: int, opener: str) -> None:
    closer = {"(": ")", "[": "]", "-": "", "not ": "", "{'k': ": "}"}[opener]
    check("{{ " + opener * depth + "1" + closer * depth + " }}")


@given(st.integers(2, 120))
@fuzz(10)
@example(factors=60)
def test_products_of_big_integers(factors: int) -> None:
    check("{{ " + " * ".join(["(2 ** 4000000)"] * factors) + " }}")
