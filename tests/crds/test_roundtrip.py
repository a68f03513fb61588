"""Property tests: valid objects survive every wire form; errors name exactly the bad documents."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from crds.errors import ValidationError
from crds.kinds import Environment, Task, Workflow
from crds.kinds.common import Command, Wants
from crds.kinds.environment import EnvironmentSpec, EnvironmentStatus, TransitionRecord
from crds.kinds.task import TaskSpec, TaskStatus
from crds.kinds.workflow import CallRole, Role, TaskRole, WorkflowSpec
from crds.manifest import decode_stored, parse_documents, parse_resource
from crds.meta import ObjectMeta
from crds.resource import Resource

names = st.from_regex(r"[a-z0-9]([-a-z0-9]{0,20}[a-z0-9])?", fullmatch=True)
text = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="{}%"), max_size=20)
var_names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,10}", fullmatch=True)
var_maps = st.dictionaries(var_names, text, max_size=4)
times = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
settings.register_profile("crds", settings.get_profile("o2"), max_examples=60)
settings.load_profile("crds")


def _meta(name: str) -> ObjectMeta:
    return ObjectMeta(name=name, labels={"o2.io/env": name}, generation=3)


environments = st.builds(
    lambda name, vars_, state, run, started: Environment(
        metadata=_meta(name),
        spec=EnvironmentSpec(workflow="wf", state=state, vars=vars_),
        status=EnvironmentStatus(
            state="RUNNING",
            run_number=run,
            task_counts={"RUNNING": 3},
            history=(
                TransitionRecord(
                    event="START_ACTIVITY",
                    from_state="CONFIGURED",
                    to_state="RUNNING",
                    started_at=started,
                    duration_seconds=0.25,
                    run_number=run,
                ),
            ),
        ),
    ),
    names,
    var_maps,
    st.sampled_from(["STANDBY", "DEPLOYED", "CONFIGURED", "RUNNING", "DONE"]),
    st.none() | st.integers(min_value=1, max_value=2**40),
    times,
)

tasks = st.builds(
    lambda name, args, props, cpus, ports, pid: Task(
        metadata=_meta(name),
        spec=TaskSpec(
            task_class="readout",
            command=Command(value="o2-sample-task", arguments=tuple(args)),
            wants=Wants(cpus=cpus, memory=64, ports=len(ports)),
            properties=props,
        ),
        status=TaskStatus(phase="Running", state="STANDBY", ports=tuple(ports), pid=pid),
    ),
    names,
    st.lists(text, max_size=4),
    var_maps,
    st.floats(min_value=0, max_value=64, allow_nan=False),
    st.lists(st.integers(min_value=1, max_value=65535), max_size=3),
    st.none() | st.integers(min_value=1, max_value=2**22),
)


def _leaf(name: str, critical: bool) -> Role:
    return Role(name=name, task=TaskRole(class_="readout", critical=critical))


def _hook(name: str) -> Role:
    return Role(name=name, call=CallRole(command=("echo", name), trigger="after_DEPLOY-5"))


def _unique(roles: list[Role]) -> tuple[Role, ...]:
    return tuple({r.name: r for r in roles}.values())


leaves = st.builds(_leaf, names, st.booleans()) | st.builds(_hook, names)
role_trees = st.recursive(
    leaves,
    lambda children: st.builds(
        lambda name, kids: Role(name=name, roles=_unique(kids)),
        names,
        st.lists(children, min_size=1, max_size=3),
    ),
    max_leaves=8,
)
workflows = st.builds(
    lambda name, roles, defaults: Workflow(
        metadata=_meta(name), spec=WorkflowSpec(roles=_unique(roles), defaults=defaults)
    ),
    names,
    st.lists(role_trees, min_size=1, max_size=3),
    var_maps,
)


def _through_all_wire_forms(obj: Resource) -> None:
    wire = obj.to_wire()
    assert parse_resource(wire) == obj
    assert parse_documents(json.dumps(wire), source="json") == [obj]
    assert parse_documents(yaml.safe_dump(wire), source="yaml") == [obj]
    stored = json.dumps(wire).encode()
    key = f"/o2/registry/{obj.kind.lower()}s/{obj.name}"
    assert decode_stored(stored, key=key) == obj


@given(environments)
def test_environment_survives_json_yaml_and_store_round_trip(env: Environment) -> None:
    _through_all_wire_forms(env)


@given(tasks)
def test_task_survives_json_yaml_and_store_round_trip(task: Task) -> None:
    _through_all_wire_forms(task)


@given(workflows)
def test_workflow_role_tree_survives_json_yaml_and_store_round_trip(wf: Workflow) -> None:
    _through_all_wire_forms(wf)


def _taskclass_doc(index: int, *, broken: str | None) -> str:
    wants: dict[str, object] = {"cpus": 0.1, "memory": 64}
    spec: dict[str, object] = {"command": {"value": "o2-sample-task"}, "wants": wants}
    if broken == "unknown-field":
        spec["gpus"] = 1
    elif broken == "bad-value":
        wants["memory"] = "lots"
    name = f"tc-{index}" if broken != "bad-name" else f"TC_{index}"
    doc = {"apiVersion": "o2/v1alpha1", "kind": "TaskClass", "metadata": {"name": name}}
    return yaml.safe_dump({**doc, "spec": spec})


@given(
    st.lists(
        st.sampled_from([None, None, "unknown-field", "bad-value", "bad-name"]),
        min_size=1,
        max_size=8,
    )
)
def test_errors_name_exactly_the_broken_documents(plan: list[str | None]) -> None:
    text = "---\n".join(_taskclass_doc(i, broken=b) for i, b in enumerate(plan))
    broken = {i + 1 for i, b in enumerate(plan) if b is not None}
    try:
        objs = parse_documents(text, source="many.yaml")
    except ValidationError as exc:
        assert {e.document for e in exc.errors} == broken
        assert all(e.source == "many.yaml" for e in exc.errors)
    else:
        assert not broken
        assert len(objs) == len(plan)
