"""The AliECS translator (crds.aliecs): every construct of the dialect, and errors that name
the file, the line and the AliECS construct."""

from __future__ import annotations

from pathlib import Path

import pytest

from crds.aliecs.load import SourceFile, Translation, kind_of, o2_name, translate
from crds.errors import ValidationError
from crds.kinds.taskclass import TaskClass
from crds.kinds.workflow import Role, Workflow, WorkflowSpec, walk_roles
from crds.labels import ALIECS_NAME, ALIECS_SOURCE

DATA = Path(__file__).resolve().parents[1] / "data"
DIALECT = DATA / "aliecs"


def read_tree(root: Path) -> list[SourceFile]:
    return [
        SourceFile(path=p.relative_to(root).as_posix(), text=p.read_text())
        for p in sorted(root.rglob("*.yaml"))
    ]


@pytest.fixture(scope="module")
def dialect() -> Translation:
    return translate(read_tree(DIALECT))


def by_name(translation: Translation, kind: type[Workflow] | type[TaskClass], name: str) -> object:
    found = [o for o in translation.objects if isinstance(o, kind) and o.name == name]
    assert len(found) == 1, [o.name for o in translation.objects]
    return found[0]


def workflow(translation: Translation, name: str) -> Workflow:
    obj = by_name(translation, Workflow, name)
    assert isinstance(obj, Workflow)
    return obj


def taskclass(translation: Translation, name: str) -> TaskClass:
    obj = by_name(translation, TaskClass, name)
    assert isinstance(obj, TaskClass)
    return obj


def roles_by_path(wf: Workflow) -> dict[str, Role]:
    return dict(walk_roles(wf.spec.roles))


def errors_of(files: dict[str, str]) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        translate([SourceFile(path=p, text=t) for p, t in files.items()])
    return [e.render() for e in caught.value.errors]


# ----- objects ---------------------------------------------------------------------------------


def test_files_become_objects_named_after_their_files_task_classes_first(
    dialect: Translation,
) -> None:
    assert [(o.kind, o.name) for o in dialect.objects] == [
        ("TaskClass", "upper-task"),
        ("TaskClass", "dialect-task"),
        ("TaskClass", "hook-task"),
        ("Workflow", "upper-case"),
        ("Workflow", "dialect-all"),
        ("Workflow", "sub-flow"),
    ]
    wf = workflow(dialect, "dialect-all")
    assert wf.metadata.annotations == {
        ALIECS_NAME: "dialect-all",
        ALIECS_SOURCE: "workflows/dialect-all.yaml",
    }


def test_names_that_are_not_dns_labels_are_lowered_and_references_follow(
    dialect: Translation,
) -> None:
    upper = workflow(dialect, "upper-case")
    assert upper.metadata.annotations[ALIECS_NAME] == "Upper_Case"
    task = upper.spec.roles[0].task
    assert task is not None and task.class_ == "upper-task"
    assert o2_name("Upper_Case") == "upper-case"
    assert o2_name("readout-dataflow") == "readout-dataflow"


def test_public_name_and_description_make_a_public_workflow(dialect: Translation) -> None:
    spec = workflow(dialect, "dialect-all").spec
    assert spec.public is True
    assert spec.description == "Every AliECS construct, for the loader's tests"
    assert workflow(dialect, "sub-flow").spec.public is False


def test_public_variables_keep_their_value_and_become_typed_declarations(
    dialect: Translation,
) -> None:
    spec = workflow(dialect, "dialect-all").spec
    assert {k: v.type for k, v in spec.variables.items()} == {
        "detectors": "list",
        "rate": "number",
        "dd_enabled": "bool",
        "run_type": "string",
        "extra_env": "map",
        "call_args": "string",
    }
    detectors = spec.variables["detectors"]
    assert (detectors.label, detectors.widget, detectors.panel) == (
        "Detectors",
        "listBox",
        "General",
    )
    assert detectors.values == ("TST", "TPC") and detectors.index == -5
    assert spec.variables["run_type"].visibleif == '$$dd_enabled === "true"'
    assert spec.variables["dd_enabled"].enabledif == "$$rate > 0"
    assert spec.variables["extra_env"].rows == 4
    # values as AliECS reads them: the scalar's text
    assert spec.defaults["rate"] == "100"
    assert spec.defaults["dd_enabled"] == "true"
    assert spec.defaults["n_workers"] == "3"
    assert spec.defaults["detectors"] == '["TST","TPC"]'


def test_a_public_variable_on_a_role_is_declared_and_valued_on_that_role(
    dialect: Translation,
) -> None:
    wf = workflow(dialect, "dialect-all")
    call_role = roles_by_path(wf)["plugin-call"]
    assert call_role.defaults == {"call_args": "--fast"}
    assert "call_args" in wf.spec.variables and "call_args" not in wf.spec.defaults


def test_workflow_spec_accepts_a_declaration_valued_only_on_a_role() -> None:
    role = {"name": "r", "defaults": {"x": "1"}, "call": {"func": "testplugin.Noop()"}}
    role["call"] = {"func": "testplugin.Noop()", "trigger": "before_CONFIGURE"}
    spec = WorkflowSpec.model_validate({"roles": [role], "variables": {"x": {"type": "number"}}})
    assert spec.variables["x"].type == "number"
    with pytest.raises(ValueError, match="y declared in `variables` without a value"):
        WorkflowSpec.model_validate({"roles": [role], "variables": {"y": {}}})


def test_task_roles_calls_hooks_includes_and_iterators(dialect: Translation) -> None:
    roles = roles_by_path(workflow(dialect, "dialect-all"))
    host = roles["host-{{ it }}"]
    assert host.for_ is not None and host.for_.range == "{{ hosts }}" and host.for_.var == "it"
    assert host.constraints[0].attribute == "machine_id"
    assert host.constraints[0].value == "{{ it }}"
    stfb = roles["host-{{ it }}.stfb"]
    assert stfb.task is not None and stfb.task.class_ == "dialect-task"
    assert stfb.task.critical is False and stfb.enabled == "{{ dd_enabled }}"
    hook = roles["host-{{ it }}.cleanup"].task
    assert hook is not None and (hook.trigger, hook.await_, hook.timeout) == (
        "before_DEPLOY",
        "after_DEPLOY",
        "45s",
    )
    worker = roles["worker{{ i }}"].for_
    assert worker is not None and (worker.begin, worker.end, worker.var) == (
        "1",
        "{{ n_workers }}",
        "i",
    )
    assert roles["sub"].include == "sub-flow"
    assert roles["sub-templated"].include == "{{ sub_workflow }}"


def test_calls_get_aliecs_default_timeout_and_keep_return(dialect: Translation) -> None:
    roles = roles_by_path(workflow(dialect, "dialect-all"))
    call = roles["plugin-call"].call
    assert call is not None
    assert (call.func, call.return_, call.trigger, call.timeout, call.critical) == (
        "testplugin.Test()",
        "test_result",
        "before_CONFIGURE",
        "30s",
        False,
    )
    timed = roles["plugin-call-timed"].call
    assert timed is not None and (timed.timeout, timed.await_) == ("5s", "after_START_ACTIVITY")


def test_bind_and_connect_channels_including_global(dialect: Translation) -> None:
    roles = roles_by_path(workflow(dialect, "dialect-all"))
    bind = roles["host-{{ it }}.readout"].bind[0]
    assert (bind.name, bind.type, bind.transport, bind.addressing) == (
        "readout",
        "push",
        "shmem",
        "ipc",
    )
    assert (bind.snd_buf_size, bind.rcv_buf_size, bind.rate_logging, bind.global_) == (
        "4",
        "1000",
        "{{ rate }}",
        "readout-{{ it }}",
    )
    connect = roles["host-{{ it }}.stfb"].connect[0]
    assert (connect.type, connect.target, connect.rcv_buf_size) == (
        "pull",
        "{{ Parent().Path }}.readout:readout",
        "8",
    )
    assert roles["global-sink"].connect[0].target == "::readout-flp001"


def test_task_template_fields(dialect: Translation) -> None:
    spec = taskclass(dialect, "dialect-task").spec
    assert spec.control == "fairmq"
    assert spec.command.env == {
        "O2_DETECTOR": "{{ detector }}",
        "O2_PARTITION": "{{ environment_id }}",
        "EMPTY": "",
        "WITH_EQUALS": "a=b",
    }
    assert spec.command.shell is True and spec.command.shell_arguments is True
    assert (spec.command.user, spec.command.stdout, spec.command.stderr) == (
        "{{ user }}",
        "{{ log_task_stdout }}",
        "{{ log_task_stderr }}",
    )
    assert spec.command.arguments == ("--id={{ task_id }}", "--rate={{ rate }}")
    assert (spec.wants.cpus, spec.wants.memory, spec.wants.ports) == (0.15, 128, 4)
    assert spec.limits is not None and (spec.limits.cpus, spec.limits.memory) == (2.0, 1024)
    assert spec.defaults["rate"] == "10" and spec.vars == {"detector": "TST"}
    assert spec.properties == {"severity": "info", "rate": "{{ rate }}"}
    assert spec.bind[0].type == "pub"
    assert spec.connect[0].target == ""  # AliECS ignores a task template's connect target
    assert spec.constraints[0].attribute == "role"


def test_control_modes_and_the_deprecated_log_field(dialect: Translation) -> None:
    hook = taskclass(dialect, "hook-task").spec
    assert hook.control == "basic"
    assert hook.command.stdout == "all" and hook.command.shell is True
    assert taskclass(dialect, "upper-task").spec.control == "direct"


def test_only_workflows_and_tasks_directly_under_the_root_are_read() -> None:
    assert kind_of("workflows/a.yaml") == "Workflow"
    assert kind_of("tasks/a.yaml") == "TaskClass"
    assert kind_of("jit/a") is None and kind_of("workflows/a.yml") is None
    assert kind_of("workflows/sub/a.yaml") is None
    assert kind_of("cw/tasks/a.yaml", root="cw") == "TaskClass"
    assert kind_of("tasks/a.yaml", root="cw") is None


def test_a_dropped_mapping_is_a_warning_with_its_line() -> None:
    text = "name: w\ndefaults:\n  x:\n    value: 1\nroles:\n  - name: r\n    include: other\n"
    result = translate([SourceFile("workflows/w.yaml", text)])
    assert [w.render() for w in result.warnings] == [
        "workflows/w.yaml:4: defaults.x: this mapping is not a value: AliECS ignores it and "
        "so does o2 (a `!public` tag missing?); quote a list or map as JSON text to make it one"
    ]
    wf = result.objects[0]
    assert isinstance(wf, Workflow) and "x" not in wf.spec.defaults


# ----- errors ----------------------------------------------------------------------------------

ROLES = "roles:\n  - name: r\n    task:\n      load: t\n"


def test_workflow_name_must_equal_its_file_name() -> None:
    assert errors_of({"workflows/w.yaml": "name: other\n" + ROLES}) == [
        "workflows/w.yaml:1: name: 'other' differs from the file name 'w': AliECS refuses "
        "such a workflow (rename the file or the workflow)"
    ]


def test_a_role_with_two_shapes_names_its_line_and_path() -> None:
    text = "name: w\nroles:\n  - name: ok\n    include: x\n  - name: bad\n    include: x\n"
    text += "    task:\n      load: t\n"
    assert errors_of({"workflows/w.yaml": text}) == [
        "workflows/w.yaml:5: roles[1]: a role has exactly one of roles, task, call, include "
        "(with or without `for`); this one has task and include"
    ]


def test_o2_validation_errors_point_back_to_the_aliecs_line() -> None:
    text = "name: w\nroles:\n  - name: c\n    call:\n      func: testplugin.Noop()\n"
    text += "      trigger: before_NOTHING\n"
    (error,) = errors_of({"workflows/w.yaml": text})
    assert error.startswith("workflows/w.yaml:6: roles[0].call.trigger: 'before_NOTHING' is not")


def test_unknown_fields_duplicates_and_bad_values_are_each_reported() -> None:
    task = "name: t\nwants:\n  cpu: lots\n  ports: 10-5\ncommand:\n  value: x\n  env: [NOEQUALS]\n"
    task += "  typo: 1\n"
    workflow_text = (
        "name: w\ndefaults:\n  a: !public\n    value: 1\n    type: float\nvars:\n"
        "  a: !public\n    value: 2\n" + ROLES
    )
    assert errors_of({"tasks/t.yaml": task, "workflows/w.yaml": workflow_text}) == [
        "tasks/t.yaml:3: wants.cpu: must be a number, not 'lots'",
        "tasks/t.yaml:4: wants.ports: range '10-5' ends before it begins",
        "tasks/t.yaml:8: command.typo: unknown field (known here: env, shell, value, user, "
        "arguments, log, stdout, stderr)",
        "tasks/t.yaml:7: command.env[0]: 'NOEQUALS' is not NAME=VALUE",
        "workflows/w.yaml:5: defaults.a.type: type 'float' is not one of string, number, bool, "
        "list, map",
        "workflows/w.yaml:7: vars.a: public variable 'a' is declared twice in this file",
    ]


def test_an_iterator_over_a_task_is_refused_with_the_way_out() -> None:
    text = "name: w\nroles:\n  - name: r{{ i }}\n    for:\n      range: '[1]'\n      var: i\n"
    text += "    task:\n      load: t\n"
    assert errors_of({"workflows/w.yaml": text}) == [
        "workflows/w.yaml:4: roles[0].for: o2 iterates aggregators only: move this task into "
        "`roles:` under the iterator (its role path gains one level)"
    ]


def test_a_call_without_trigger_is_refused() -> None:
    text = "name: w\nroles:\n  - name: c\n    call:\n      func: testplugin.Noop()\n"
    errors = errors_of({"workflows/w.yaml": text})
    assert errors == [
        "workflows/w.yaml:5: roles[0].call: a call needs a `trigger` (without one it never runs)"
    ]


def test_two_files_mapping_to_one_name_clash() -> None:
    files = {
        "tasks/Read_Out.yaml": "command: {value: x}\n",
        "tasks/read-out.yaml": "command: {value: y}\n",
    }
    assert errors_of(files) == [
        "tasks/read-out.yaml:1: name: TaskClass name 'read-out' becomes 'read-out' in o2 "
        "(names are lower-case DNS labels), which tasks/Read_Out.yaml already has: rename one "
        "of the files"
    ]


def test_yaml_syntax_errors_name_the_line() -> None:
    (error,) = errors_of({"workflows/w.yaml": "name: w\nroles: [\n"})
    assert error.startswith("workflows/w.yaml:3: not YAML:")
