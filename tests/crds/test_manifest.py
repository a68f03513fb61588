"""Manifest parsing: formats accepted, and every problem reported with where it is."""

from __future__ import annotations

import json
import textwrap

import pytest

from crds.errors import FieldError, UnreadableObjectError, ValidationError
from crds.kinds import Environment, TaskClass, Workflow
from crds.manifest import decode_stored, parse_documents, parse_resource

TC = """\
apiVersion: o2/v1alpha1
kind: TaskClass
metadata: {name: readout}
spec:
  command: {value: o2-sample-task, arguments: ["--detector", "{{ detector }}"]}
  wants: {cpus: 0.5, memory: 128, ports: 1}
"""
ENV = """\
apiVersion: o2/v1alpha1
kind: Environment
metadata: {name: physics-1}
spec: {workflow: readout-dataflow, state: RUNNING, vars: {detectors: '["TPC"]'}}
"""


def _errors(text: str, *, source: str = "m.yaml") -> list[FieldError]:
    with pytest.raises(ValidationError) as info:
        parse_documents(text, source=source)
    return info.value.errors


def test_multi_document_yaml_gives_one_resource_per_document() -> None:
    objs = parse_documents(TC + "---\n" + ENV, source="m.yaml")
    assert [type(o) for o in objs] == [TaskClass, Environment]
    assert isinstance(objs[0], TaskClass)
    assert objs[0].spec.wants.cpus == 0.5


def test_empty_documents_are_skipped() -> None:
    assert [o.name for o in parse_documents("---\n" + TC + "---\n---\n", source="m")] == ["readout"]


def test_json_object_json_list_and_kind_list_are_accepted() -> None:
    wire = parse_documents(TC, source="m")[0].to_wire()
    env = parse_documents(ENV, source="m")[0].to_wire()
    as_list = json.dumps([wire, env])
    as_kind_list = json.dumps({"apiVersion": "v1", "kind": "List", "items": [wire, env]})
    for text in (json.dumps(wire), as_list, as_kind_list):
        assert parse_documents(text, source="m")[0].kind == "TaskClass"
    assert len(parse_documents(as_kind_list, source="m")) == 2


def test_unknown_field_is_rejected_with_its_wire_path() -> None:
    errors = _errors(TC.replace("ports: 1", "ports: 1, gpus: 2"))
    assert [(e.path, e.document, e.kind, e.name) for e in errors] == [
        ("spec.wants.gpus", 1, "TaskClass", "readout")
    ]
    assert "unknown field" in errors[0].message


def test_snake_case_field_is_unknown_on_the_wire_only_camel_case_counts() -> None:
    errors = _errors(ENV.replace("state: RUNNING", "state: RUNNING, run_type: PHYSICS"))
    assert [e.path for e in errors] == ["spec.run_type"]


def test_bad_name_is_rejected() -> None:
    errors = _errors(TC.replace("name: readout", "name: Read_Out"))
    assert errors[0].path == "metadata.name"
    assert "DNS-1123" in errors[0].message


def test_name_longer_than_63_characters_is_rejected() -> None:
    errors = _errors(TC.replace("name: readout", "name: " + "a" * 64))
    assert errors[0].path == "metadata.name"


def test_every_bad_document_is_reported_not_just_the_first() -> None:
    bad_tc = TC.replace("cpus: 0.5", "cpus: lots")
    bad_env = ENV.replace("state: RUNNING", "state: FLYING")
    errors = _errors("---\n".join([TC, bad_tc.replace("readout", "other"), ENV, bad_env]))
    assert [(e.document, e.path) for e in errors] == [(2, "spec.wants.cpus"), (4, "spec.state")]
    assert "FLYING" in errors[1].message


def test_unknown_kind_lists_the_known_kinds() -> None:
    errors = _errors(TC.replace("kind: TaskClass", "kind: Deployment"))
    assert errors[0].path == "kind"
    assert "Environment" in errors[0].message and "TaskClass" in errors[0].message


def test_wrong_api_version_names_the_supported_one() -> None:
    errors = _errors(TC.replace("o2/v1alpha1", "apps/v1"))
    assert errors[0].path == "apiVersion"
    assert "o2/v1alpha1" in errors[0].message


def test_yaml_syntax_error_names_the_document_and_line() -> None:
    errors = _errors(TC + "---\nkind: [unclosed\n", source="bad.yaml")
    assert errors[0].document == 2
    assert "line" in errors[0].message
    assert errors[0].render().startswith("bad.yaml: document 2")


def test_non_object_document_is_an_error() -> None:
    errors = _errors("just a string\n")
    assert "expected an object" in errors[0].message


def test_same_object_twice_is_reported_as_duplicate() -> None:
    errors = _errors(TC + "---\n" + TC)
    assert [(e.document, e.path) for e in errors] == [(2, "metadata.name")]


def test_error_inside_kind_list_carries_the_item_path() -> None:
    wire = parse_documents(TC, source="m")[0].to_wire()
    wire["spec"]["control"] = "telepathy"
    errors = _errors(json.dumps({"kind": "List", "items": [wire]}))
    assert errors[0].path == "items[0].spec.control"


def test_nested_role_error_names_the_role_path() -> None:
    wf = textwrap.dedent(
        """\
        apiVersion: o2/v1alpha1
        kind: Workflow
        metadata: {name: wf}
        spec:
          roles:
            - {name: a, task: {class: x}}
            - name: b
              roles:
                - {name: c, task: {class: y}, call: {command: [echo], trigger: enter_RUNNING}}
                - {name: d, task: {klass: z}}
        """
    )
    paths = {e.path for e in _errors(wf)}
    assert "spec.roles[1].roles[0]" in paths
    assert "spec.roles[1].roles[1].task.klass" in paths


def test_parse_resource_accepts_a_mapping() -> None:
    wire = parse_documents(ENV, source="m")[0].to_wire()
    assert isinstance(parse_resource(wire, source="x", document=1), Environment)


def test_decode_stored_sets_resource_version_and_checks_key() -> None:
    wire = parse_documents(ENV, source="m")[0].to_wire()
    raw = json.dumps(wire).encode()
    obj = decode_stored(raw, key="/o2/registry/environments/physics-1", resource_version=42)
    assert obj.metadata.resource_version == 42
    with pytest.raises(UnreadableObjectError, match="registry/workflows/physics-1"):
        decode_stored(raw, key="/o2/registry/workflows/physics-1")


@pytest.mark.parametrize("raw", [b"garbage{", b"[1, 2]", b'{"kind": "Environment"}', b"\xff\xfe"])
def test_decode_stored_garbage_raises_unreadable_naming_the_key(raw: bytes) -> None:
    key = "/o2/registry/environments/x"
    with pytest.raises(UnreadableObjectError) as info:
        decode_stored(raw, key=key)
    assert info.value.key == key
    assert key in str(info.value)


def test_workflow_with_no_roles_is_rejected() -> None:
    text = "apiVersion: o2/v1alpha1\nkind: Workflow\nmetadata: {name: w}\nspec: {roles: []}\n"
    errors = _errors(text)
    assert errors[0].path == "spec"
    assert "at least one role" in errors[0].message
    assert isinstance(
        parse_documents(text.replace("[]", "[{name: a, task: {class: x}}]"), source="m")[0],
        Workflow,
    )


def _deep_workflow(depth: int) -> dict[str, object]:
    role: dict[str, object] = {"name": "leaf", "task": {"class": "x"}}
    for _ in range(depth):
        role = {"name": "a", "roles": [role]}
    return {"apiVersion": "o2/v1alpha1", "kind": "Workflow", "metadata": {"name": "w"},
            "spec": {"roles": [role]}}  # fmt: skip


def test_hostile_nesting_is_an_error_not_a_crash() -> None:
    raw = b"[" * 100_000 + b"]" * 100_000
    with pytest.raises(UnreadableObjectError):
        decode_stored(raw, key="/o2/registry/workflows/w")
    with pytest.raises(ValidationError):
        parse_documents(raw.decode(), source="deep.json")
    with pytest.raises(ValidationError):
        parse_documents("a:\n" + "".join("  " * i + "- \n" for i in range(1, 3000)), source="y")


def test_deep_but_sane_role_trees_parse() -> None:
    obj = parse_resource(_deep_workflow(50))
    assert isinstance(obj, Workflow)


@pytest.mark.parametrize(
    ("typo", "path", "hint"),
    [
        ("state: RUNNING, run_type: PHYSICS", "spec.run_type", "runType"),
        ("state: RUNNING, worklow2: x", "spec.worklow2", "workflow"),
    ],
)
def test_unknown_field_suggests_the_closest_wire_name(typo: str, path: str, hint: str) -> None:
    errors = _errors(ENV.replace("state: RUNNING", typo))
    assert [e.path for e in errors] == [path]
    assert f"did you mean {hint!r}" in errors[0].message


def test_unknown_field_inside_role_tree_suggests_from_the_right_model() -> None:
    wf = (
        "apiVersion: o2/v1alpha1\nkind: Workflow\nmetadata: {name: w}\n"
        "spec: {roles: [{name: a, roles: [{name: b, call: {command: [x], trigger: after_DEPLOY,"
        " timeoutt: 5s}}]}]}\n"
    )
    errors = _errors(wf)
    assert errors[0].path == "spec.roles[0].roles[0].call.timeoutt"
    assert "did you mean 'timeout'" in errors[0].message


def test_unknown_field_with_nothing_close_explains_camel_case() -> None:
    errors = _errors(ENV.replace("state: RUNNING", "state: RUNNING, zzz: 1"))
    assert "camelCase" in errors[0].message


def test_json_syntax_error_names_line_and_column() -> None:
    errors = _errors('{"apiVersion": "o2/v1alpha1",\n "kind" "TaskClass"}', source="x.json")
    assert errors[0].render().startswith("x.json: document 1: invalid JSON")
    assert "line 2" in errors[0].message
