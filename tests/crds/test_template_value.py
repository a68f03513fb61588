"""TemplateValue: what it accepts and converts, and what decoding a stored Task costs in Python."""

from __future__ import annotations

import sys
from datetime import date
from types import FrameType

import pydantic
import pytest

from crds.kinds import Task, common
from crds.kinds.common import Command, TemplateValue, Wants
from crds.kinds.task import TaskSpec, TaskStatus
from crds.meta import ObjectMeta

_ADAPTER = pydantic.TypeAdapter(TemplateValue)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("plain", "plain"),
        ("{{ x }}", "{{ x }}"),
        ("a { b } {", "a { b } {"),
        ("{x}{", "{x}{"),
        ("{ {", "{ {"),
        ("50% {a} %}", "50% {a} %}"),
        (True, "true"),
        (False, "false"),
        (100, "100"),
        (0.5, "0.5"),
        (["TPC", 1], '["TPC", 1]'),
        ({"a": 1}, '{"a": 1}'),
        (date(2026, 1, 1), "2026-01-01"),
    ],
)
def test_template_values_keep_text_and_turn_scalars_into_json_text(
    value: object, text: str
) -> None:
    assert _ADAPTER.validate_python(value) == text


@pytest.mark.parametrize("value", ["{{ detector ", "{% if x %}no end", ["{{ a + }}"]])
def test_broken_template_syntax_is_rejected_from_python_and_json(value: object) -> None:
    with pytest.raises(pydantic.ValidationError, match="template syntax error at line 1"):
        _ADAPTER.validate_python(value)
    if isinstance(value, str):
        with pytest.raises(pydantic.ValidationError, match="template syntax error at line 1"):
            Command.model_validate_json(f'{{"value": "x", "arguments": ["{value}"]}}')


@pytest.mark.parametrize("value", [None, object()])
def test_template_values_reject_what_is_not_text_or_a_scalar(value: object) -> None:
    with pytest.raises(pydantic.ValidationError, match="string"):
        _ADAPTER.validate_python(value)


def test_field_constraints_still_apply_to_template_values() -> None:
    with pytest.raises(pydantic.ValidationError, match="at least 1 character"):
        Command.model_validate_json('{"value": ""}')


def _task() -> Task:
    return Task(
        metadata=ObjectMeta(name="physics-1-flp-00001-readout"),
        spec=TaskSpec(
            environment="physics-1",
            role="flp-00001.readout",
            task_class="readout",
            command=Command(value="o2-readout-exe", arguments=("--detector", "TPC", "-v")),
            wants=Wants(cpus=0.5, memory=512, ports=2),
            state="CONFIGURED",
            properties={f"key{j}": f"value-{j}" for j in range(10)},
        ),
        status=TaskStatus(phase="Running", state="CONFIGURED", hostname="flp-001", pid=1000),
    )


def test_decoding_a_task_enters_python_once_per_template_field_at_most() -> None:
    """Every read of a stored Task validates its ~17 template fields: a plain string costs one
    Python call from pydantic-core (it cost two: a before and an after validator)."""
    data = _task().model_dump_json(by_alias=True)
    entries: list[str] = []

    def profile(frame: FrameType, event: str, _arg: object) -> None:
        if event != "call" or frame.f_code.co_filename != common.__file__:
            return
        caller = frame.f_back
        if caller is None or caller.f_code.co_filename != common.__file__:
            entries.append(frame.f_code.co_name)  # entered from pydantic-core, not nested

    sys.setprofile(profile)
    try:
        task = Task.model_validate_json(data)
    finally:
        sys.setprofile(None)
    assert task == _task()
    # value, user, stdout, stderr, 3 arguments, 10 properties; one ControlMode alias.
    templated = 4 + 3 + 10
    assert entries.count("_control_alias") == 1
    assert len(entries) - 1 <= templated
