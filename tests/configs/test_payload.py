"""Payload format checks name the line; rendering is sandboxed and names the failing line."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import pytest

from controller.environments.template import Scope
from crds.configpayload import check_payload, format_for, parse_payload, render
from crds.errors import ConfigError


@pytest.mark.parametrize(
    ("fmt", "data", "line"),
    [
        ("ini", "[readout]\nrate = 1\nthis line has no equals sign\n", 3),
        ("ini", "rate = 1\n", 1),
        ("ini", "[a]\nx = 1\nx = 2\n", 3),
        ("json", '{\n  "rate": 1,\n  "oops": ,\n}\n', 3),
        ("yaml", "rate: 1\nlist: [1, 2\nnext: 3\n", 3),
    ],
)
def test_unparsable_payload_error_names_config_and_line(fmt: str, data: str, line: int) -> None:
    with pytest.raises(ConfigError) as err:
        parse_payload(fmt, data, config="componentconfig/readout@2")
    assert err.value.line == line
    assert str(err.value).startswith(f"componentconfig/readout@2 line {line}: invalid")


def test_valid_payloads_parse_into_data() -> None:
    assert parse_payload("ini", "[a]\nx = 1\n") == {"a": {"x": "1"}}
    assert parse_payload("json", '{"x": [1]}') == {"x": [1]}
    assert parse_payload("yaml", "x: [1]\n") == {"x": [1]}
    assert parse_payload("text", "anything {") == "anything {"


def test_render_fills_placeholders_and_keeps_the_rest_verbatim() -> None:
    payload = "[readout]\ndetector = {{ detector }}\nrate = {{ rate | int }}\n\n"
    out = render(payload, {"detector": "TPC", "rate": "200"})
    assert out == "[readout]\ndetector = TPC\nrate = 200\n\n"


def test_render_error_names_the_line_of_an_undefined_variable() -> None:
    with pytest.raises(ConfigError) as err:
        render("a = 1\nb = {{ detctor }}\n", {"detector": "TPC"}, config="cc/readout@1")
    assert err.value.line == 2
    assert "'detctor' is undefined" in str(err.value)


@pytest.mark.parametrize(
    "payload",
    [
        "{% for i in range(10) %}x{% endfor %}",
        "{{ detector.__class__ }}",
        "{{ 'x' * 100000000 }}",
        "{{ lipsum() }}",
    ],
)
def test_render_refuses_statements_and_unsafe_expressions(payload: str) -> None:
    with pytest.raises(ConfigError):
        render(payload, {"detector": "TPC"})


def test_format_follows_the_file_extension() -> None:
    assert format_for("readout.INI") == "ini"
    assert format_for("qc.yml") == "yaml"
    assert format_for("x.json") == "json"
    assert format_for("notes") == "text"


class LazyVariables(Mapping[str, object]):
    """A scope that resolves names on demand and must never be copied or listed."""

    def __init__(self, values: dict[str, object]) -> None:
        self._values = values
        self.looked_up: list[str] = []

    def __getitem__(self, key: str) -> object:
        self.looked_up.append(key)
        return self._values[key]

    def __contains__(self, key: object) -> bool:
        return key in self._values

    def __iter__(self) -> Iterator[str]:
        raise AssertionError("the variables were listed")

    def __len__(self) -> int:
        raise AssertionError("the variables were counted")


def test_render_looks_variables_up_by_name_only() -> None:
    scope = LazyVariables({"detector": "TPC", "expensive": "never needed"})
    assert render("det={{ detector }}", scope) == "det=TPC"
    assert scope.looked_up == ["detector"]


@pytest.mark.parametrize(
    ("fmt", "payload", "line"),
    [
        ("json", '{\n  "detector": "{{ detector }}",\n  "rate": {{ rate }},,\n}\n', 3),
        ("yaml", "detector: {{ detector }}\nlinks: [{{ first }}, 2\n", 3),
        ("ini", "[readout]\nrate = {{ rate }}\n{{ oops }}\n", 3),
    ],
)
def test_templated_payload_that_cannot_parse_is_caught_before_rendering(
    fmt: str, payload: str, line: int
) -> None:
    with pytest.raises(ConfigError) as err:
        check_payload(fmt, payload, config="cc")
    assert err.value.line == line
    assert "with each placeholder read as 0" in str(err.value)


@pytest.mark.parametrize(
    ("fmt", "payload"),
    [
        ("json", '{"detector": "{{ detector }}", "rate": {{ rate | int }}, "x": {{ a.b.c }}}'),
        ("yaml", "detector: {{ detector }}\nlinks: [{{ first }}, 2]\n"),
        ("ini", "[readout]\nrate = {{ rate }}\n"),
    ],
)
def test_well_formed_templated_payload_passes_the_check(fmt: str, payload: str) -> None:
    check_payload(fmt, payload, config="cc")


@pytest.mark.parametrize(
    "expression",
    [
        "{{ as_list(detectors)|join(',') }}",
        "{{ json(detectors)[1]|lower }}",
        "{{ strings.ToUpper(detector) }}-{{ rate|int * 2 }}",
        "{{ detector != 'ITS' }} {{ [rate, detector] }} {{ none }}",
        "{{ 'on' if bool(enabled) else 'off' }}",
    ],
)
def test_payload_renders_exactly_as_a_workflow_value(expression: str) -> None:
    variables = {
        "detectors": '["TPC", "ITS"]',
        "detector": "TPC",
        "rate": "200",
        "enabled": "no",
    }
    scope = Scope([("vars", variables)], where="flp-TPC.readout")
    assert render(expression, variables) == scope.render(expression)
