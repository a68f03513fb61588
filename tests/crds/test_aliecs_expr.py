"""AliECS `{{ expr-lang }}` values translated into o2's dialect keep their AliECS meaning, and
every construct the ControlWorkflows repository uses translates and compiles."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from crds.aliecs.expr import AliecsExpressionError, expression_to_o2, to_o2
from crds.errors import O2Error, TemplateError
from crds.templating import compile_template, render_template

DATA = Path(__file__).parent.parent / "data"
SAMPLES = DATA / "aliecs" / "expressions.yaml"
REPOSITORY = DATA / "controlworkflows"
"""A pinned copy of AliceO2Group/ControlWorkflows, when the test data holds one."""
VARS = {
    "a": "x",
    "n": "3",
    "yes": "true",
    "no": "false",
    "empty": "",
    "detectors": '["TPC", "ITS"]',
    "odc_n_epns": "12",
    "doc": '{"items": {"get": 1}}',
}


def run(value: str, variables: Mapping[str, object] = VARS) -> str:
    return render_template(to_o2(value), variables, where="test")


def samples() -> list[str]:
    loaded = yaml.safe_load(SAMPLES.read_text())
    assert isinstance(loaded, list) and len(loaded) > 40
    return [str(e) for e in loaded]


@pytest.mark.parametrize("expression", samples())
def test_every_construct_of_the_repository_translates_and_compiles(expression: str) -> None:
    translated = to_o2("--x={{ " + expression + " }}")
    assert translated.startswith("--x={{ ")
    compile_template(translated)


class _AliecsYaml(yaml.SafeLoader):
    """YAML as AliECS files are: `!public` (and other) tags read as plain nodes."""


def _untagged(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> object:
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_scalar(node)  # type: ignore[arg-type]


_AliecsYaml.add_multi_constructor("!", _untagged)


def _values(document: object) -> list[str]:
    if isinstance(document, str):
        return [document] if "{{" in document else []
    if isinstance(document, dict):
        return [v for pair in document.items() for item in pair for v in _values(item)]
    if isinstance(document, list):
        return [v for item in document for v in _values(item)]
    return []


def repository_values() -> list[str]:
    files = sorted([*REPOSITORY.glob("workflows/*.yaml"), *REPOSITORY.glob("tasks/*.yaml")])
    values: set[str] = set()
    for path in files:
        values.update(_values(yaml.load(path.read_text(), Loader=_AliecsYaml)))
    return sorted(values)


@pytest.mark.skipif(not REPOSITORY.is_dir(), reason="no copy of ControlWorkflows in tests/data")
def test_every_value_of_the_pinned_repository_translates_and_compiles() -> None:
    values = repository_values()
    assert len(values) > 200
    for value in values:
        compile_template(to_o2(value))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("{{ a + '-' + n }}", "x-3"),
        ("{{ a + a }}", "xx"),
        ("{{ json.Unmarshal(detectors) + ['MID'] }}", '["TPC","ITS","MID"]'),
        ("{{ len(n) + strings.Atoi(n) }}", "4"),
        ("{{ nil + a }}", "x"),
        ("{{ n == '3' }}", "true"),
        ("{{ n != '3' }}", "false"),
        ("{{ yes == 'true' ? '--on' : '' }}", "--on"),
        ("{{ no == 'true' ? '--on' : '' }}", ""),
        ("{{ yes ? 1 : 2 }}", "1"),
        ("{{ no == 'true' ? 1 : n == '3' ? 2 : 3 }}", "2"),
        ("{{ yes == 'true' && no == 'false' }}", "true"),
        ("{{ yes == 'false' || !(no == 'true') }}", "true"),
        ("{{ not strings.IsFalsy(empty) }}", "false"),
        ("{{ yes == 'true' and n == '3' or false }}", "true"),
        ("{{ 'TPC' in json.Unmarshal(detectors) }}", "true"),
        ("{{ 'MID' not in json.Unmarshal(detectors) }}", "true"),
        ("{{ !('MID' in json.Unmarshal(detectors)) }}", "true"),
        ("{{ detectors contains 'ITS' }}", "true"),
        ("{{ detectors not contains 'MCH' }}", "true"),
        ("{{ a startsWith 'x' && a endsWith 'x' }}", "true"),
        ("{{ 'flp012' matches '^flp0[0-9]+$' }}", "true"),
        ("{{ nil ?? 'fallback' }}", "fallback"),
        ("{{ a ?? 'fallback' }}", "x"),
        ("{{ len(detectors) > 0 ? 'some' : 'none' }}", "some"),
        ("{{ len(json.Unmarshal(detectors)) }}", "2"),
        ("{{ json.Unmarshal(detectors)[1] }}", "ITS"),
        ("{{ json.Unmarshal(detectors)[0:1] }}", '["TPC"]'),
        ("{{ {'k': [1, 0x10, 2.5]}.k }}", "[1,16,2.5]"),
        ('{{ {k: "v", "l": true}["l"] }}', "true"),
        ("{{ json.Unmarshal(doc).items.get }}", "1"),
        ("{{ 7 % 4 + 2 * 3 - -1 }}", "10"),
        ("{{ 2 ** 3 ** 2 }}", "512"),
        ("{{ -2 ** 2 }}", "-4"),
        ("{{ \"a\\tb\" + 'c\\'d' + `e\\f` }}", "a\tbc'de\\f"),
        ('{{ "\\u00e9\\x41" }}', "éA"),
        ("{{ true }}/{{ false }}/{{ nil }}", "true/false/"),
        (
            '{{ "[{\\"n\\":\\"" + odc_n_epns + "\\"}]" }}',
            '[{"n":"12"}]',
        ),
    ],
)
def test_translation_keeps_expr_lang_meaning(value: str, expected: str) -> None:
    assert run(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("plain text", "plain text"),
        ("plain text\n", "plain text\n"),
        ("{% if x %}{# c #}", "{% if x %}{# c #}"),
        ("{{{ a }}", None),
        ("a{ {{ a }} }", "a{ x }"),
        ("x{{ a }}{%", "xx{%"),
        ("line {{ a }}\n", "line x\n"),
        ("{{ a }}}}", "x}}"),
    ],
)
def test_literal_text_stays_literal(value: str, expected: str | None) -> None:
    if expected is None:  # AliECS cuts at the first '}}': the expression is `{ a `
        with pytest.raises(AliecsExpressionError):
            to_o2(value)
        return
    assert run(value) == expected


@pytest.mark.parametrize(
    ("value", "column", "construct"),
    [
        ("abc {{ a ? }}", 11, "end of expression"),
        ("{{ a && }}", 8, "end of expression"),
        ("x {{ a == = b }}", 11, "="),
        ("{{ a # b }}", 6, "# b"),
        ("{{ a", 1, "{{"),
        ("{{   }}", 3, "{{}}"),
        ("{{ if }}", 4, "if"),
        ("{{ $env }}", 4, "$env"),
    ],
)
def test_errors_name_the_column_and_the_construct(value: str, column: int, construct: str) -> None:
    with pytest.raises(AliecsExpressionError) as caught:
        to_o2(value)
    error = caught.value
    assert isinstance(error, O2Error) and isinstance(error, ValueError)
    assert (error.column, error.construct[: len(construct)]) == (column, construct)
    assert f"column {column}" in str(error)


def test_conditions_must_be_booleans_as_in_expr_lang() -> None:
    with pytest.raises(TemplateError, match="must be true or false"):
        run("{{ a ? 1 : 2 }}")
    with pytest.raises(TemplateError, match="cannot add"):
        run("{{ n + 1 }}")


def test_deep_nesting_is_an_error_not_a_crash() -> None:
    with pytest.raises(AliecsExpressionError, match="nested too deeply"):
        to_o2("{{ " + "!" * 3000 + "a }}")
    assert to_o2("{{ " + "(" * 3000 + "a" + ")" * 3000 + " }}") == "{{ a }}"


def test_plain_text_stays_as_it_is() -> None:
    assert to_o2("no expression {# here\n") == "no expression {# here\n"


def test_translation_reads_well() -> None:
    assert expression_to_o2("'readout-stfb-' + it") == "'readout-stfb-' ~ it"
    assert (
        expression_to_o2("rocConfigNoGBT == 'true' ? '--no-gbt' : ''")
        == "('--no-gbt' if (rocConfigNoGBT == 'true') else '')"
    )
    assert expression_to_o2("Up(2).Path") == "Up(2).Path"


TOKENS = [
    "a", "n", "yes", " ", "?", ":", "&&", "||", "!", "not ", " in ", " contains ", "==", "!=",
    "<", "+", "-", "*", "/", "%", "**", "??", "(", ")", "[", "]", "{", "}", ",", ".", "'x'",
    '"y\\n"', "1", "2.5", "true", "nil", "len(", "strings.ToUpper(", "{{", "}}", "{%", "#",
]  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=24))
def test_any_value_translates_or_fails_with_a_column(parts: list[str]) -> None:
    value = "v{{ " + "".join(parts) + " }}w"
    try:
        translated = to_o2(value)
    except AliecsExpressionError as exc:
        assert 1 <= exc.column <= len(value)
        return
    with contextlib.suppress(TemplateError):  # a type error at render time, as any template's
        render_template(translated, VARS, where="test")
