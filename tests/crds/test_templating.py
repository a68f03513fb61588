"""The one template sandbox: helpers, hostile input failing fast, and the same rules for workflow
values (EXPRESSION limits) and config payloads (PAYLOAD limits)."""

from __future__ import annotations

import time
from collections.abc import Mapping

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crds.configpayload import render as render_payload
from crds.errors import ConfigError, O2Error, TemplateError
from crds.templating import (
    EXPRESSION,
    PAYLOAD,
    Limits,
    as_list,
    is_truthy,
    render_template,
)


def render(source: str, variables: Mapping[str, object], *, limits: Limits = EXPRESSION) -> str:
    return render_template(source, variables, where="test", limits=limits)


@pytest.mark.parametrize("text", ["false", "False", "0", "", "no", " off "])
def test_false_words_are_false(text: str) -> None:
    assert not is_truthy(text)


@pytest.mark.parametrize("text", ["true", "1", "yes", "TPC"])
def test_other_words_are_true(text: str) -> None:
    assert is_truthy(text)


def test_as_list_reads_json_and_comma_lists() -> None:
    assert as_list('["TPC","ITS"]') == ["TPC", "ITS"]
    assert as_list("TPC, ITS") == ["TPC", "ITS"]
    assert as_list("") == []
    assert as_list("[1, true]") == ["1", "true"]


def test_json_list_helpers() -> None:
    v = {"detectors": '["TPC", "ITS"]'}
    assert render("{{ as_list(detectors)|length }}", v) == "2"
    assert render("{{ 'ITS' in as_list(detectors) }}", v) == "true"
    assert render("{{ json(detectors)[0]|lower }}", v) == "tpc"
    assert render("{{ ToJson(FromJson(detectors)) }}", v) == '["TPC","ITS"]'
    assert render("{{ json.Marshal(as_list('a,b')) }}", v) == '["a","b"]'
    assert render("{{ strings.ToLower('X') }}{{ upper('y') }}{{ len('abc') }}", v) == "xY3"


def test_booleans_render_lowercase_and_lists_as_json() -> None:
    assert render("{{ d != 'ITS' }}", {"d": "ITS"}) == "false"
    assert render("{{ [1, 'a'] }}", {}) == '[1,"a"]'


UNSAFE = [
    "{{ ''.__class__.__mro__ }}",
    "{{ lower.__globals__ }}",
    "{{ 'a'.center(100) }}",
    "{{ 'x'.format(1) }}",
    "{% for i in range(3) %}x{% endfor %}",
    "{% set x = 1 %}",
    "{{ range(3)|random }}",
    "{{ lipsum() }}",
]
HOSTILE = [
    "{{ 'a' * 100000000 }}",
    "{{ range(100000000)|list|length }}",
    "{{ (['a' * 60000] * 60000)|join }}",
    "{{ ('a' * 600000)|replace('a', 'aaaa') }}",
    "{{ x ~ x ~ x ~ x ~ x ~ x ~ x ~ x ~ x ~ x ~ x ~ x ~ x ~ x ~ x ~ x ~ x }}",
    "{{ 10 ** (10 ** 8) }}",
    "{{ '%999999999s' % 1 }}",
]


@pytest.mark.parametrize("limits", [EXPRESSION, PAYLOAD], ids=["expression", "payload"])
@pytest.mark.parametrize("source", UNSAFE)
def test_sandbox_rejects_internals_statements_and_unlisted_helpers(
    source: str, limits: Limits
) -> None:
    with pytest.raises(TemplateError):
        render(source, {}, limits=limits)


@pytest.mark.parametrize("limits", [EXPRESSION, PAYLOAD], ids=["expression", "payload"])
@pytest.mark.parametrize("source", HOSTILE)
def test_hostile_templates_fail_fast(source: str, limits: Limits) -> None:
    started = time.monotonic()
    with pytest.raises(TemplateError):
        render(source, {"x": "y"}, limits=limits)
    assert time.monotonic() - started < 1.0


def test_overlong_workflow_value_fails_fast() -> None:
    with pytest.raises(TemplateError, match="characters long"):
        render("{{ x }}" + " ~ x" * 2000, {"x": "y"})


def test_many_large_payload_expressions_stop_at_the_output_bound() -> None:
    source = "{{ 'a' * 500000 }}\n" * 8
    started = time.monotonic()
    with pytest.raises(TemplateError, match="limit"):
        render(source, {}, limits=PAYLOAD)
    assert time.monotonic() - started < 1.0


def test_nested_concatenation_is_bounded_per_expression_in_payloads() -> None:
    nested = "((x ~ x) ~ (x ~ x))"
    for _ in range(4):
        nested = f"(({nested}) ~ ({nested}))"
    with pytest.raises(TemplateError, match="'~' operands"):
        render("{{ " + nested + " }}", {"x": "y"}, limits=PAYLOAD)


def test_expression_source_is_bounded_but_a_long_payload_is_not() -> None:
    long = "key = value\n" * 1000 + "detector = {{ detector }}\n"
    with pytest.raises(TemplateError, match="characters long"):
        render(long, {"detector": "TPC"})
    assert render(long, {"detector": "TPC"}, limits=PAYLOAD).endswith("detector = TPC\n")


def test_payload_keeps_its_trailing_newline_a_workflow_value_drops_it() -> None:
    assert render("{{ d }}\n", {"d": "TPC"}, limits=PAYLOAD) == "TPC\n"
    assert render("{{ d }}\n", {"d": "TPC"}) == "TPC"


def test_payload_rendering_offers_the_workflow_helpers() -> None:
    payload = (
        "[readout]\nlinks = {{ as_list(detectors)|join(' ') }}\nfirst = {{ json(detectors)[0] }}\n"
    )
    out = render_payload(payload, {"detectors": '["TPC","ITS"]'})
    assert out == "[readout]\nlinks = TPC ITS\nfirst = TPC\n"


@pytest.mark.parametrize("source", ["{{ 'a' * 100000000 }}", "{{ ''.__class__ }}", "{{ nope }}"])
def test_payload_errors_are_config_errors_naming_the_line(source: str) -> None:
    with pytest.raises(ConfigError) as err:
        render_payload("a = 1\nb = " + source + "\n", {}, config="cc/readout@1")
    assert err.value.line == 2
    assert isinstance(err.value, O2Error)


def test_variables_shadow_helpers() -> None:
    assert render("{{ json }}", {"json": "mine"}) == "mine"


@given(st.text(alphabet=st.characters(blacklist_characters="{}%#"), max_size=50))
def test_plain_text_renders_unchanged(text: str) -> None:
    assert render(text, {}, limits=PAYLOAD) == text
