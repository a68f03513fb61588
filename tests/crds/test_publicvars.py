"""Type checks of public variable values (crds.publicvars). Pure."""

from __future__ import annotations

import pytest

from crds.kinds.workflow import VariableSpec, Workflow
from crds.publicvars import check_values, value_problem


@pytest.mark.parametrize(
    ("kind", "good", "bad"),
    [
        ("string", ["", "anything {"], []),
        ("number", ["3", "-0.5", " 1e3 "], ["", "three", "nan", "inf"]),
        ("bool", ["true", "false", "True"], ["yes", "1", ""]),
        ("list", ["[]", '["TPC", 1]'], ["TPC", '{"a": 1}', "[1,"]),
        ("map", ["{}", '{"a": [1]}'], ["[]", "a=1"]),
    ],
)
def test_values_fit_their_declared_type(kind: str, good: list[str], bad: list[str]) -> None:
    spec = VariableSpec.model_validate({"type": kind})
    assert [value_problem(spec, v) for v in good] == [None] * len(good)
    for value in bad:
        problem = value_problem(spec, value)
        assert problem is not None and problem.startswith(f"expected {kind} (")


def test_allowed_values_are_checked_per_list_item_and_named() -> None:
    spec = VariableSpec.model_validate({"type": "list", "values": ["TPC", "ITS"]})
    assert value_problem(spec, '["ITS","TPC"]') is None
    assert value_problem(spec, '["TPC","MCH"]') == "'MCH' not allowed; allowed values: TPC, ITS"
    scalar = VariableSpec.model_validate({"values": ["a", "b"]})
    assert value_problem(scalar, "c") == "'c' not allowed; allowed values: a, b"


def test_check_values_skips_undeclared_and_templated_values() -> None:
    workflow = Workflow.model_validate(
        {
            "apiVersion": "o2/v1alpha1",
            "kind": "Workflow",
            "metadata": {"name": "w"},
            "spec": {
                "variables": {"n": {"type": "number"}},
                "defaults": {"n": "1"},
                "roles": [{"name": "c", "call": {"command": ["true"], "trigger": "DEPLOY"}}],
            },
        }
    )
    values = {"n": "x", "a.b:n": "y", "other": "z", "t": "{{ n }}", "c:n": "{{ 'x' }}"}
    errors = check_values(workflow, values, name="env-1")
    assert [(e.path, e.kind, e.name) for e in errors] == [
        ("spec.vars.n", "Environment", "env-1"),
        ("spec.vars.a.b:n", "Environment", "env-1"),
    ]
    assert "public variable 'n' of workflow 'w': expected number" in errors[0].message
