"""Template evaluation: errors name the place, the sandbox holds, hostile input fails fast."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from controller.environments.template import Scope, as_list, is_truthy
from crds.errors import TemplateError


def scope(*layers: dict[str, str]) -> Scope:
    return Scope([(f"layer{i}", layer) for i, layer in enumerate(layers)], where="flp-TPC.readout")


def test_unknown_variable_error_names_role_path_field_and_expression() -> None:
    with pytest.raises(TemplateError) as err:
        scope({}).render("--rate={{ rtae }}", field="command.arguments[1]")
    text = str(err.value)
    assert "flp-TPC.readout command.arguments[1]" in text
    assert "--rate={{ rtae }}" in text
    assert "'rtae' is undefined" in text


def test_variables_are_templates_resolved_late_in_the_using_scope() -> None:
    s = scope({"uri": "consul://{{ host }}/cfg"}, {"host": "flp1"})
    assert s.render("{{ uri }}") == "consul://flp1/cfg"


def test_higher_layer_wins_and_self_reference_sees_the_lower_layer() -> None:
    s = scope({"rate": "100", "card": "c1"}, {"rate": "200", "card": "x-{{ card }}"})
    assert s.render("{{ rate }} {{ card }}") == "200 x-c1"


def test_reference_cycle_is_an_error_not_a_hang() -> None:
    with pytest.raises(TemplateError, match="refers back to itself"):
        scope({"a": "{{ b }}", "b": "{{ a }}"}).render("{{ a }}")


def test_booleans_render_lowercase_and_lists_as_json() -> None:
    s = scope({"d": "ITS"})
    assert s.render("{{ d != 'ITS' }}") == "false"
    assert s.render("{{ [1, 'a'] }}") == '[1,"a"]'


@pytest.mark.parametrize("text", ["false", "False", "0", "", "no", " off "])
def test_false_words_are_false(text: str) -> None:
    assert not is_truthy(text)


@pytest.mark.parametrize("text", ["true", "1", "yes", "TPC"])
def test_other_words_are_true(text: str) -> None:
    assert is_truthy(text)


def test_json_list_helpers() -> None:
    s = scope({"detectors": '["TPC", "ITS"]'})
    assert s.render("{{ as_list(detectors)|length }}") == "2"
    assert s.render("{{ 'ITS' in as_list(detectors) }}") == "true"
    assert s.render("{{ json(detectors)[0]|lower }}") == "tpc"
    assert s.render("{{ ToJson(FromJson(detectors)) }}") == '["TPC","ITS"]'
    assert s.render("{{ json.Marshal(as_list('a,b')) }}") == '["a","b"]'
    assert s.render("{{ strings.ToLower('X') }}{{ upper('y') }}{{ len('abc') }}") == "xY3"


def test_as_list_reads_json_and_comma_lists() -> None:
    assert as_list('["TPC","ITS"]') == ["TPC", "ITS"]
    assert as_list("TPC, ITS") == ["TPC", "ITS"]
    assert as_list("") == []
    assert as_list("[1, true]") == ["1", "true"]


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ lower.__globals__ }}",
        "{{ 'a'.center(100) }}",
        "{{ 'x'.format(1) }}",
        "{% for i in range(3) %}x{% endfor %}",
        "{% set x = 1 %}",
        "{{ range(3)|random }}",
        "{{ lipsum() }}",
    ],
)
def test_sandbox_rejects_internals_statements_and_unlisted_helpers(source: str) -> None:
    with pytest.raises(TemplateError):
        scope({}).render(source)


@pytest.mark.parametrize(
    "source",
    [
        "{{ 'a' * 100000000 }}",
        "{{ range(100000000)|list|length }}",
        "{{ (['a' * 60000] * 60000)|join }}",
        "{{ ('a' * 600000)|replace('a', 'aaaa') }}",
        "{{ x ~ x ~ x ~ x ~ x ~ x ~ x ~ x ~ x ~ x ~ x ~ x ~ x ~ x ~ x ~ x ~ x }}",
        "{{ 10 ** (10 ** 8) }}",
        "{{ '%999999999s' % 1 }}",
        "{{ x }}" + " ~ x" * 2000,
    ],
)
def test_hostile_templates_fail_fast(source: str) -> None:
    started = time.monotonic()
    with pytest.raises(TemplateError):
        scope({"x": "y"}).render(source)
    assert time.monotonic() - started < 1.0


def test_exponential_variable_references_hit_the_budget() -> None:
    chain = {f"a{i}": f"{{{{ a{i - 1}|length }}}}{{{{ a{i - 1}|length }}}}" for i in range(1, 60)}
    started = time.monotonic()
    with pytest.raises(TemplateError, match="too many variable references"):
        scope({"a0": "x", **chain}).render("{{ a59 }}")
    assert time.monotonic() - started < 1.0


def test_broken_variable_only_fails_when_used() -> None:
    s = scope({"bad": "{{ nope }}", "good": "ok"})
    assert s.render("{{ good if true else bad }}") == "ok"
    with pytest.raises(TemplateError, match="nope"):
        s.render("{{ bad }}")


@given(st.text(alphabet=st.characters(blacklist_characters="{}%#"), max_size=50))
def test_plain_text_renders_unchanged(text: str) -> None:
    assert scope({}).render(text) == text
