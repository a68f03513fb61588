"""The sandbox's work meter: costly templates stop early, deterministically, with a clear error;
ordinary templates are unaffected; comparisons keep their meaning when compiled as tests."""

from __future__ import annotations

import time
import tracemalloc

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crds.configpayload import check_payload
from crds.configpayload import render as render_payload
from crds.errors import ConfigError, TemplateError
from crds.templatework import CALL, OBJECT_WORK, Work, WorkBudgetError, metered
from crds.templating import EXPRESSION_WORK, PAYLOAD_WORK, render_template

STALL = "{{ range(1500)|select('in',('b'*1000000)|list)|list|length }}"
"""The 223-byte ComponentConfig payload's expression that took ~16 ms per item (~25 s)."""
BOMB = "{{ (['a'*1000000]*200)|map('upper')|list|length }}"
"""Built ~190 MB in 0.5 s before the meter."""
CHEAP = "{{ detectors|map('lower')|join(',') }}-{{ 'TPC' in detectors and 1 < 2 <= 2 }}"


def render(source: str, **variables: object) -> str:
    return render_template(source, variables, where="workflow vars.x")


def test_the_stalling_expression_is_refused_at_once_naming_the_bound() -> None:
    started = time.monotonic()
    with pytest.raises(TemplateError, match="too much work for one template") as err:
        render(STALL)
    assert time.monotonic() - started < 2.0
    assert err.value.path == "workflow vars.x"
    assert f"{EXPRESSION_WORK:,} units" in err.value.reason


def test_the_memory_bomb_is_refused_before_it_builds_much() -> None:
    tracemalloc.start()
    try:
        with pytest.raises(TemplateError, match="too much work"):
            render(BOMB)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 40 * 1024 * 1024


def test_the_same_template_stops_at_the_same_point_every_time() -> None:
    spent = []
    for _ in range(3):
        with metered(10**12, scope="outer") as outer, pytest.raises(TemplateError):
            render(STALL)
        spent.append(outer.used)
    assert len(set(spent)) == 1


def test_ordinary_templates_render_as_before_and_cost_little() -> None:
    with metered(10**12, scope="outer") as outer:
        out = render(CHEAP, detectors=["TPC", "ITS"])
    assert out == "tpc,its-true"
    assert outer.used < 20 * CALL


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{ 'a' not in ['b'] }}", "true"),
        ("{{ 1 < 2 < 1 }}", "false"),
        ("{{ 3 >= 3 > 2 != 1 == 1 }}", "true"),
        ("{{ [1, 2] == [1, 2] and 'x' < 'y' }}", "true"),
        ("{{ not 'a' in 'cat' }}", "false"),
        ("{{ range(5)|select('lt', 2)|list }}", "[0,1]"),
    ],
)
def test_comparisons_compiled_as_tests_keep_their_meaning(source: str, expected: str) -> None:
    assert render(source) == expected


@given(
    st.lists(st.integers(-3, 3), min_size=2, max_size=4),
    st.lists(st.sampled_from(["<", "<=", ">", ">=", "==", "!="]), min_size=3, max_size=3),
)
def test_chained_comparisons_agree_with_python(values: list[int], ops: list[str]) -> None:
    source = str(values[0]) + "".join(f" {op} {v}" for op, v in zip(ops, values[1:], strict=False))
    expected = eval(source)
    assert render("{{ " + source + " }}") == ("true" if expected else "false")


@pytest.mark.parametrize(
    "source",
    [
        "{{ " + "(" * 400 + "1" + ")" * 400 + " }}",
        "{{ " + "[" * 60 + "]" * 60 + " }}",
        "{{ " + "not " * 200 + "1 }}",
        "{{ " + "-" * 300 + "1 }}",
    ],
)
def test_deep_nesting_is_a_template_error_never_a_recursion_error(source: str) -> None:
    with pytest.raises(TemplateError, match=r"nested too deeply|too large|syntax"):
        render(source)


def test_deep_json_is_a_template_error() -> None:
    deep = "[" * 100_000 + "]" * 100_000
    with pytest.raises(TemplateError):
        render_template("{{ from_json(text)|length }}", {"text": deep}, where="x")


def test_payload_check_refuses_the_223_byte_config_quickly() -> None:
    payload = "rate = " + STALL + "\n"
    started = time.monotonic()
    with pytest.raises(ConfigError, match="too much work") as err:
        check_payload("ini", payload, config="componentconfig/readout@1")
    assert time.monotonic() - started < 2.0
    assert "componentconfig/readout@1" in str(err.value)


def test_a_payload_of_many_costly_lines_fails_as_a_whole_in_bounded_work() -> None:
    line = "{{ range(1000)|map('string')|map('upper')|list|length }}\n"  # ~2,000 calls each
    payload = line * 200  # each line is fine alone, all of them are not
    outer_meter = metered(10**12, scope="outer")
    with outer_meter as outer, pytest.raises(ConfigError, match="too much work") as err:
        render_payload(payload, {}, config="componentconfig/x@1")
    assert err.value.line is None  # no single line is to blame
    assert outer.used <= OBJECT_WORK + PAYLOAD_WORK


def test_meters_nest_and_the_outer_one_bounds_the_sum() -> None:
    with metered(3 * CALL, scope="outer") as outer:
        for _ in range(2):
            render("{{ x|upper }}", x="a")
        with pytest.raises(TemplateError, match="too much work for outer"):
            for _ in range(10):
                render("{{ x|upper }}", x="a")
    assert outer.used > outer.limit


def test_work_budget_error_names_its_meter() -> None:
    work = Work(10, scope="s", outer=None)
    with pytest.raises(WorkBudgetError) as err:
        work.charge(11)
    assert err.value.work is work


def test_products_of_big_integers_are_refused_before_they_are_computed() -> None:
    started = time.monotonic()
    with pytest.raises(TemplateError, match="long"):
        render("{{ " + " * ".join(["(2 ** 4000000)"] * 45) + " }}")
    assert time.monotonic() - started < 2.0


def test_constant_expressions_are_not_evaluated_when_compiling() -> None:
    with pytest.raises(TemplateError):
        render("{{ not ((0) if ((0)[0]) else (0)) }}")
