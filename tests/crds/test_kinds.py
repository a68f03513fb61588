"""Kind registry, printer columns and per-kind validation rules."""

from __future__ import annotations

import inspect
from datetime import UTC, date, datetime

import pydantic
import pytest

from crds.errors import NotFoundError
from crds.kinds import ComponentConfig, Environment, Node, Task, TaskClass
from crds.kinds.common import Command, Constraint
from crds.kinds.componentconfig import HISTORY_LIMIT, ComponentConfigSpec, record_version
from crds.kinds.environment import (
    EnvironmentSpec,
    EnvironmentStatus,
    TransitionRecord,
    append_history,
)
from crds.kinds.node import NodeResources, NodeStatus, ResourceAmounts
from crds.kinds.task import TaskSpec, TaskStatus
from crds.kinds.workflow import CallRole, Role
from crds.meta import ObjectMeta
from crds.moments import Moment, parse_moment
from crds.resource import Resource, all_kinds, kind_info

NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("environment", "Environment"),
        ("environments", "Environment"),
        ("env", "Environment"),
        ("envs", "Environment"),
        ("Environment", "Environment"),
        ("tc", "TaskClass"),
        ("taskclasses", "TaskClass"),
        ("wf", "Workflow"),
        ("task", "Task"),
        ("tasks", "Task"),
        ("no", "Node"),
        ("gs", "GitSource"),
        ("cc", "ComponentConfig"),
        ("ev", "Event"),
    ],
)
def test_short_plural_and_singular_names_resolve_to_the_kind(name: str, kind: str) -> None:
    assert kind_info(name).kind == kind


def test_unknown_kind_name_raises_not_found_listing_kinds() -> None:
    with pytest.raises(NotFoundError, match="environments"):
        kind_info("pods")


def test_every_kind_is_registered_once_with_unique_names() -> None:
    infos = all_kinds()
    assert len(infos) == 8
    every_name = [n for info in infos for n in set(info.names())]
    assert len(every_name) == len(set(every_name))
    for info in infos:
        assert info.kind == info.model.KIND
        assert info.model.model_fields["kind"].default == info.kind


def test_every_field_declared_in_a_kind_module_has_a_description() -> None:
    missing = []
    for info in all_kinds():
        for model in _models_under(info.model):
            if not model.__module__.startswith("crds.kinds"):
                continue
            own = inspect.get_annotations(model)
            for field_name, field in model.model_fields.items():
                if field_name in own and not field.description:
                    missing.append(f"{model.__name__}.{field_name}")
    assert missing == []


def _models_under(model: type[pydantic.BaseModel]) -> set[type[pydantic.BaseModel]]:
    found: set[type[pydantic.BaseModel]] = set()
    todo = [model]
    while todo:
        current = todo.pop()
        if current in found:
            continue
        found.add(current)
        for field in current.model_fields.values():
            for arg in _type_args(field.annotation):
                if isinstance(arg, type) and issubclass(arg, pydantic.BaseModel):
                    todo.append(arg)
    return found


def _type_args(annotation: object) -> list[object]:
    args = list(getattr(annotation, "__args__", ()))
    out: list[object] = [annotation]
    for arg in args:
        out.extend(_type_args(arg))
    return out


def _env(**status: object) -> Environment:
    return Environment(
        metadata=ObjectMeta(name="physics-1"),
        spec=EnvironmentSpec(workflow="readout-dataflow", state="RUNNING"),
        status=EnvironmentStatus.model_validate(status),
    )


def _cells(obj: Resource, *, wide: bool = False) -> dict[str, str]:
    info = kind_info(obj.kind)
    return {c.header: c.value(obj) for c in info.columns if wide or not c.wide_only}


def test_environment_columns_show_state_desired_run_and_tasks() -> None:
    env = _env(state="CONFIGURED", runNumber=None, taskCounts={"CONFIGURED": 2}, taskTotal=3)
    assert _cells(env) == {
        "NAME": "physics-1",
        "WORKFLOW": "readout-dataflow",
        "STATE": "CONFIGURED",
        "DESIRED": "RUNNING",
        "RUN": "",
        "TASKS": "2/3",
    }
    assert _cells(_env(state="RUNNING", runNumber=7))["RUN"] == "7"


def test_task_columns_and_wide_columns() -> None:
    task = Task(
        metadata=ObjectMeta(name="physics-1-flp-tpc-readout"),
        spec=TaskSpec(
            environment="physics-1",
            role="flp-tpc.readout",
            task_class="readout",
            command=Command(value="o2-sample-task"),
        ),
        status=TaskStatus(
            phase="Running", state="RUNNING", hostname="flp-001", pid=42, ports=(1, 2)
        ),
    )
    assert list(_cells(task).values()) == [
        "physics-1-flp-tpc-readout", "physics-1", "flp-tpc.readout", "RUNNING", "Running",
        "flp-001", "42",
    ]  # fmt: skip
    assert _cells(task, wide=True)["PORTS"] == "1,2"


def test_node_columns_show_mode_and_resources() -> None:
    node = Node(
        metadata=ObjectMeta(name="flp-001"),
        status=NodeStatus(
            hostname="flp-001.cern.ch",
            ready=True,
            tasks=2,
            resources=NodeResources(
                total=ResourceAmounts(cpus=8, memory=1024, ports=100),
                allocated=ResourceAmounts(cpus=0.5, memory=128, ports=2),
            ),
        ),
    )
    cells = _cells(node)
    assert cells["HOSTNAME"] == "flp-001.cern.ch"
    assert (cells["MODE"], cells["READY"], cells["CPUS"], cells["MEM"], cells["TASKS"]) == (
        "sync", "true", "0.5/8", "128/1024", "2",
    )  # fmt: skip


def test_every_kind_has_a_name_column() -> None:
    for info in all_kinds():
        assert any(c.header == "NAME" for c in info.columns), info.kind


def test_role_with_task_and_call_is_rejected_naming_the_role() -> None:
    with pytest.raises(pydantic.ValidationError, match="role 'x' has task and call"):
        Role.model_validate(
            {
                "name": "x",
                "task": {"class": "a"},
                "call": {"command": ["e"], "trigger": "enter_RUNNING"},
            }
        )


def test_role_that_does_nothing_is_rejected() -> None:
    with pytest.raises(pydantic.ValidationError, match="does nothing"):
        Role.model_validate({"name": "x"})
    with pytest.raises(pydantic.ValidationError, match="iterator"):
        Role.model_validate({"name": "x", "for": {"range": "{{ d }}", "var": "d"}})


def test_iterator_role_with_children_is_accepted() -> None:
    role = Role.model_validate(
        {"name": "flp-{{ d }}", "for": {"range": "{{ ds }}", "var": "d"}, "roles": [
            {"name": "readout", "task": {"class": "readout"}}]}
    )  # fmt: skip
    assert role.for_ is not None and role.for_.var == "d"


def test_sibling_roles_with_the_same_name_are_rejected() -> None:
    leaf = {"name": "a", "task": {"class": "x"}}
    with pytest.raises(pydantic.ValidationError, match="unique"):
        Role.model_validate({"name": "p", "roles": [leaf, leaf]})


@pytest.mark.parametrize(
    ("text", "moment"),
    [
        ("before_START_ACTIVITY+10", Moment("before", "START_ACTIVITY", 10)),
        ("enter_RUNNING-200", Moment("enter", "RUNNING", -200)),
        ("after_DEPLOY", Moment("after", "DEPLOY", 0)),
        ("leave_CONFIGURED", Moment("leave", "CONFIGURED", 0)),
    ],
)
def test_hook_moments_parse(text: str, moment: Moment) -> None:
    assert parse_moment(text) == moment


@pytest.mark.parametrize(
    "text", ["before_RUNNING", "enter_START_ACTIVITY", "during_DEPLOY", "before_DEPLOY+x", ""]
)
def test_bad_hook_moments_are_rejected(text: str) -> None:
    with pytest.raises(ValueError, match="not a hook moment"):
        parse_moment(text)


def test_constraint_operators_check_their_value() -> None:
    assert Constraint(attribute="host", operator="UNIQUE").value == ""
    with pytest.raises(pydantic.ValidationError, match="needs a value"):
        Constraint(attribute="detector")
    with pytest.raises(pydantic.ValidationError, match="regular expression"):
        Constraint(attribute="host", operator="REGEX", value="flp-(")
    assert Constraint(attribute="d", operator="REGEX", value="{{ pattern }}").value


def test_numbers_booleans_and_lists_in_vars_become_json_text() -> None:
    spec = EnvironmentSpec.model_validate(
        {"workflow": "wf", "vars": {"rate": 100, "on": True, "detectors": ["TPC", "ITS"]}}
    )
    assert spec.vars == {"rate": "100", "on": "true", "detectors": '["TPC", "ITS"]'}
    dated = EnvironmentSpec.model_validate({"workflow": "wf", "vars": {"day": date(2026, 1, 2)}})
    assert dated.vars == {"day": "2026-01-02"}


def test_taskclass_durations_are_validated() -> None:
    with pytest.raises(pydantic.ValidationError, match="not a duration"):
        TaskClass.model_validate(
            {
                "metadata": {"name": "a"},
                "spec": {"command": {"value": "x"}, "startupTimeout": "soon"},
            }
        )


def test_component_config_records_a_version_only_when_data_changes() -> None:
    cc = ComponentConfig(
        metadata=ObjectMeta(name="readout-any-main", generation=1),
        spec=ComponentConfigSpec(component="readout", data="a"),
    )
    first = record_version(cc, now=NOW)
    assert (first.version, [v.data for v in first.history]) == (1, ["a"])
    cc = cc.model_copy(update={"status": first})
    assert record_version(cc, now=NOW) == first
    cc = cc.model_copy(update={"spec": cc.spec.model_copy(update={"data": "b"})})
    second = record_version(cc, now=NOW)
    assert (second.version, [v.data for v in second.history]) == (2, ["a", "b"])
    assert cc.model_copy(update={"status": second}).version_ref == "readout-any-main@2"


def test_component_config_history_is_bounded() -> None:
    cc = ComponentConfig(
        metadata=ObjectMeta(name="c"), spec=ComponentConfigSpec(component="readout")
    )
    for i in range(HISTORY_LIMIT + 5):
        cc = cc.model_copy(update={"spec": cc.spec.model_copy(update={"data": str(i)})})
        cc = cc.model_copy(update={"status": record_version(cc, now=NOW)})
    assert len(cc.status.history) == HISTORY_LIMIT
    assert cc.status.version == HISTORY_LIMIT + 5
    assert cc.status.history[-1].data == str(HISTORY_LIMIT + 4)


def test_environment_history_keeps_the_newest_entries() -> None:
    history: tuple[TransitionRecord, ...] = ()
    for run in range(5):
        record = TransitionRecord(
            event="START_ACTIVITY", from_state="CONFIGURED", to_state="RUNNING", run_number=run
        )
        history = append_history(history, record, limit=3)
    assert [r.run_number for r in history] == [2, 3, 4]


def test_models_are_frozen() -> None:
    env = _env()
    with pytest.raises(pydantic.ValidationError):
        env.spec.state = "DONE"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("trigger", "await_"),
    [
        ("before_START_ACTIVITY+100", "after_START_ACTIVITY-10"),
        ("before_START_ACTIVITY", "enter_RUNNING"),
        ("leave_CONFIGURED-5", "leave_CONFIGURED+5"),
        ("before_DEPLOY", "before_DEPLOY"),
    ],
)
def test_call_await_at_or_after_its_trigger_is_accepted(trigger: str, await_: str) -> None:
    call = CallRole.model_validate({"command": ["x"], "trigger": trigger, "await": await_})
    assert call.await_ == await_


@pytest.mark.parametrize(
    ("trigger", "await_"),
    [
        ("after_START_ACTIVITY", "before_START_ACTIVITY"),
        ("before_DEPLOY+10", "before_DEPLOY-10"),
        ("before_DEPLOY", "after_STOP_ACTIVITY"),
    ],
)
def test_call_await_before_its_trigger_is_rejected(trigger: str, await_: str) -> None:
    with pytest.raises(pydantic.ValidationError, match="never comes at or after"):
        CallRole.model_validate({"command": ["x"], "trigger": trigger, "await": await_})


@pytest.mark.parametrize("name", ["a.b", "a/b", "a b", "x{{ d }}.y"])
def test_role_names_with_path_separators_or_spaces_are_rejected(name: str) -> None:
    with pytest.raises(pydantic.ValidationError, match="role name"):
        Role.model_validate({"name": name, "task": {"class": "x"}})


def test_role_names_may_hold_expressions() -> None:
    role = Role.model_validate({"name": "flp-{{ d | lower }}_x", "task": {"class": "x"}})
    assert role.name == "flp-{{ d | lower }}_x"


@pytest.mark.parametrize("value", ["{{ detector ", "{{ a + }}", "{% if x %}no end"])
def test_broken_template_syntax_is_rejected_at_parse_time(value: str) -> None:
    with pytest.raises(pydantic.ValidationError, match="template syntax error at line 1"):
        EnvironmentSpec.model_validate({"workflow": "wf", "vars": {"x": value}})


@pytest.mark.parametrize(
    ("value", "choices"),
    [("TPC,ITS", ("TPC", "ITS")), ('["TPC", "ITS"]', ("TPC", "ITS")), (" TPC ", ("TPC",))],
)
def test_in_constraint_choices_accept_json_lists_and_commas(
    value: str, choices: tuple[str, ...]
) -> None:
    assert Constraint(attribute="detector", operator="IN", value=value).choices() == choices


def test_in_constraint_accepts_a_yaml_list_value() -> None:
    c = Constraint.model_validate({"attribute": "d", "operator": "IN", "value": ["TPC", "ITS"]})
    assert c.choices() == ("TPC", "ITS")


def test_kinds_are_listed_templates_first_events_last() -> None:
    assert [info.plural for info in all_kinds()] == [
        "taskclasses", "workflows", "environments", "tasks", "nodes", "gitsources",
        "componentconfigs", "events",
    ]  # fmt: skip
