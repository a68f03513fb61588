"""AliECS's template function library as o2 provides it (configuration/template/stack.go
semantics), in both dialects, metered and bounded like every other helper."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from crds.aliecs.context import AliecsContext, RoleFunctions, new_uid
from crds.aliecs.expr import to_o2
from crds.aliecs.library import check_pattern, prefixed_override
from crds.errors import TemplateError
from crds.templatehelpers import TemplateBudgetError, TemplateFunctionError
from crds.templating import render_template


def run(value: str, variables: Mapping[str, object] | None = None) -> str:
    return render_template(to_o2(value), variables or {}, where="test")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("{{ strings.IsTruthy(' Yes ') }}{{ strings.IsTruthy('ok') }}", "truetrue"),
        ("{{ strings.IsTruthy('enabled') }}{{ strings.IsTruthy('') }}", "falsefalse"),
        (
            "{{ strings.IsFalsy('') }}{{ strings.IsFalsy('None') }}{{ strings.IsFalsy('n') }}",
            "truetruetrue",
        ),
        ("{{ strings.IsFalsy('off ') }}{{ strings.IsFalsy('x') }}", "truefalse"),
        ("{{ strings.TrimQuotes('\"a\"') }}|{{ strings.TrimQuotes(\"'a'\") }}", "a|'a'"),
        (
            "{{ strings.TrimSpace(' a ') }}{{ strings.ToUpper('b') }}{{ strings.ToLower('C') }}",
            "aBc",
        ),
        ("{{ strings.Atoi('12') + 1 }}|{{ strings.Atoi('x') }}|{{ strings.Itoa(7) }}", "13|0|7"),
        ('{{ json.Marshal(json.Sort(json.Unmarshal(\'["b", 1, "a"]\'))) }}', '["1","a","b"]'),
        ("{{ json.Serialize(json.Deserialize('{\"k\": [1]}')) }}", '{"k":[1]}'),
        ("{{ json.Sort('text') }}", "text"),
        ("{{ util.SuffixInRange('alio2-cr1-flp072', 'alio2-cr1-flp', '001', '072') }}", "true"),
        ("{{ util.SuffixInRange('alio2-cr1-flp073', 'alio2-cr1-flp', '001', '072') }}", "false"),
        ("{{ util.SuffixInRange('other', 'alio2-cr1-flp', '001', '072') }}", "false"),
        ("{{ util.SuffixInRange('alio2-cr1-flpx', 'alio2-cr1-flp', '001', '072') }}", "false"),
        ("{{ util.Nullable(nil) }}|{{ util.Nullable('a') }}", "|a"),
        ("{{ len('abc') }}{{ len(json.Unmarshal('[1, 2]')) }}", "32"),
    ],
)
def test_functions_have_aliecs_semantics(value: str, expected: str) -> None:
    assert run(value) == expected


def test_the_o2_dialect_sees_the_same_library() -> None:
    source = "{{ strings.IsFalsy(x) }} {{ util.SuffixInRange('flp3', 'flp', '1', '5') }}"
    assert render_template(source, {"x": "none"}, where="test") == "true true"


def test_dump_never_writes_a_file(tmp_path: Path) -> None:
    target = tmp_path / "dump.txt"
    assert run("{{ util.Dump('payload', path) }}", {"path": str(target)}) == "payload"
    assert not target.exists()


def test_dpl_generation_is_refused_with_the_reason() -> None:
    with pytest.raises(TemplateError, match=r"needs the O2 software \(DPL\) on the controller"):
        run("{{ dpl.GenerateFromUri('tpc-sac') }}")


def test_functions_of_unshipped_aliecs_plugins_are_refused_with_the_reason() -> None:
    with pytest.raises(TemplateError, match=r"AliECS's odc integration plugin, which o2 does not"):
        run("{{ odc.GenerateEPNTopologyFullname() }}")
    # as translated from readout-dataflow: only evaluated when the branch is taken
    assert run("{{ false ? odc.GenerateEPNWorkflowScript() : '' }}") == ""


def test_prefixed_override_outside_a_role_says_where_it_works() -> None:
    with pytest.raises(TemplateError, match="needs the variables of a role"):
        run("{{ util.PrefixedOverride('a', 'b') }}")


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        ({"ctp_qc": "special", "qc": "plain"}, "special"),
        ({"ctp_qc": "none", "qc": "plain"}, "plain"),
        ({"ctp_qc": "  ", "qc": "plain"}, "plain"),
        ({"qc": "plain"}, "plain"),
        ({"qc": "none"}, ""),
        ({}, ""),
    ],
)
def test_prefixed_override(variables: dict[str, str], expected: str) -> None:
    assert prefixed_override(variables, "qc", "ctp") == expected


@pytest.mark.parametrize(
    "pattern",
    ["(a+)+b", "(a|aa)*", "((a)*)+", "(x(a|b))+", r"(a)\1", "(?P<x>a)(?P=x)", "(?:a*){2}"],
)
def test_patterns_with_unbounded_search_time_are_refused(pattern: str) -> None:
    with pytest.raises(TemplateBudgetError, match="no bound"):
        check_pattern(pattern)


@pytest.mark.parametrize(
    ("pattern", "quantifiers"),
    [("^flp0[0-9]+$", 1), (r"^\d{3}-[a-z]*?x$", 2), ("(ab)+c?", 2), ("^(TPC|ITS)$", 0)],
)
def test_bounded_patterns_count_their_quantifiers(pattern: str, quantifiers: int) -> None:
    assert check_pattern(pattern) == quantifiers


def test_matches_is_charged_its_worst_case_and_stopped_by_the_meter() -> None:
    assert run("{{ 'flp012' matches '^flp0[0-9]+$' }}") == "true"
    with pytest.raises(TemplateError, match="too much work"):
        run("{{ text matches 'a*a*a*a*b' }}", {"text": "a" * 200})


def test_uids_have_aliecs_shape_and_depend_on_the_seed() -> None:
    ids = {new_uid(f"env\0role\0{i}") for i in range(100)}
    assert len(ids) == 100 and all(len(i) == 11 and i.isalnum() for i in ids)
    assert new_uid("x") == new_uid("x")


class FakeScope:
    where = "top.mid.leaf"
    rendering = "top.mid.leaf properties.x"

    def lookup(self) -> Mapping[str, object]:
        return {}


def test_up_and_parent_walk_the_role_path() -> None:
    functions = RoleFunctions(AliecsContext(), FakeScope(), "top.mid")
    up = functions["Up"]
    assert callable(up)
    assert up(1) == {"Path": "top.mid", "Name": "mid"}
    assert up(2) == {"Path": "top", "Name": "top"}
    assert up(0) is None
    with pytest.raises(TemplateFunctionError, match="no ancestor 3 level"):
        up(3)
    parent, this = functions["Parent"], functions["This"]
    assert callable(parent) and parent() == {"Path": "top.mid", "Name": "mid"}
    assert callable(this) and this() == {"Path": "top.mid.leaf", "Name": "leaf"}
