"""Layered variables (Scope): errors name the place, late binding, cycles and budgets.

The sandbox itself (helpers, hostile input) is tested in tests/crds/test_templating.py."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from controller.environments.template import Scope
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


def test_scope_renders_through_the_shared_sandbox_helpers() -> None:
    s = scope({"detectors": '["TPC", "ITS"]', "d": "ITS"})
    assert s.render("{{ as_list(detectors)|length }} {{ d != 'ITS' }}") == "2 false"
    assert s.truthy("{{ strings.IsTruthy('off') }}") is False


@pytest.mark.parametrize(
    "source",
    ["{{ ''.__class__.__mro__ }}", "{% set x = 1 %}", "{{ 'a' * 100000000 }}", "{{ x ~ x }}" * 9],
)
def test_sandbox_refusals_become_template_errors_naming_the_role(source: str) -> None:
    started = time.monotonic()
    with pytest.raises(TemplateError, match=r"flp-TPC\.readout"):
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
