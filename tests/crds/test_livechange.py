"""The pure parts of live changes: which roles scale, the edits, the spec diff; and presets."""

from __future__ import annotations

import pytest

from crds.errors import ValidationError
from crds.livechange import changed_environment, parse_change, scalable_roles, spec_diff
from crds.presets import Preset, by_name, check_name, encode
from tests.gui.samples import SCALABLE_WORKFLOW, environment, workflow


def test_only_roles_whose_replicas_is_one_variable_scale() -> None:
    roles = scalable_roles(workflow(SCALABLE_WORKFLOW))
    assert [(r.path, r.variable) for r in roles] == [("qc", "qc_replicas")]


def test_detector_edit_starts_from_the_workflow_value_when_the_env_sets_none() -> None:
    wf = workflow()
    defaults = {**wf.spec.defaults, "detectors": '["TPC","ITS"]'}
    wf = wf.model_copy(update={"spec": wf.spec.model_copy(update={"defaults": defaults})})
    change = parse_change({"change": "detectors", "add": ["MCH"], "remove": ["ITS"]})
    after, warnings = changed_environment(environment(), change, workflow=wf)
    assert after.spec.vars == {"detectors": '["TPC","MCH"]'} and warnings == []


def test_excluding_an_absent_detector_warns_and_changes_nothing() -> None:
    env = environment()
    change = parse_change({"change": "detectors", "remove": ["EMC"]})
    after, warnings = changed_environment(env, change, workflow=workflow())
    assert spec_diff(env, after) == ""
    assert warnings == ["EMC is not among the detectors of environment/physics-1"]


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"change": "rename"},
        {"change": "detectors"},
        {"change": "detectors", "add": ["TPC"], "remove": ["TPC"]},
        {"change": "scale", "role": "qc", "replicas": True},
        {"change": "vars", "set": {"a": 1}},
    ],
)
def test_malformed_changes_are_refused(body: object) -> None:
    with pytest.raises(ValidationError):
        parse_change(body)


def test_preset_names_and_unreadable_records() -> None:
    for bad in ("", " x", "a/b", "x" * 65):
        with pytest.raises(ValidationError):
            check_name(bad)
    check_name("TPC physics (v2)")
    good = encode(Preset(name="b", workflow="w"))
    assert [p.name for p in by_name({"1": b"{", "2": good, "3": b'{"x":1}'})] == ["b"]
