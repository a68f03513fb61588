"""A `fairmq` task's command line gets what AliECS's core appends: `--id`, `-S`, `-P`, `--color`."""

from __future__ import annotations

import pytest

from controller.__main__ import parse_args
from controller.environments.expand import expand
from controller.environments.fmqargs import FairMQPlugin
from crds.kinds.environment import Environment
from crds.kinds.taskclass import TaskClass
from crds.kinds.workflow import Workflow

DEFAULT_TAIL = ("-S", "$CONTROL_OCCPLUGIN_ROOT/lib/", "-P", "OCClite", "--color", "false")


def manifest(kind: type[TaskClass | Workflow | Environment], name: str, spec: object) -> object:
    body = {"apiVersion": "o2/v1alpha1", "kind": kind.__name__, "metadata": {"name": name}}
    return kind.model_validate({**body, "spec": spec})


def environment() -> Environment:
    env = manifest(Environment, "env-1", {"workflow": "wf", "vars": {"dev": "stfb"}})
    assert isinstance(env, Environment)
    return env


def classes() -> dict[str, TaskClass]:
    specs = {
        "stfb": {"control": "fairmq", "command": {"value": "StfBuilder", "arguments": ["-v"]}},
        "named": {
            "control": "fairmq",
            "command": {"value": "StfSender", "arguments": ["--id", "{{ dev }}-1"]},
        },
        "readout": {"control": "direct", "command": {"value": "readout", "arguments": ["x"]}},
        "cleanup": {"control": "basic", "command": {"value": "rm", "arguments": ["-f", "y"]}},
    }
    out = {}
    for name, spec in specs.items():
        cls = manifest(TaskClass, name, spec)
        assert isinstance(cls, TaskClass)
        out[name] = cls
    return out


def workflow() -> Workflow:
    roles = [{"name": name, "task": {"class": name}} for name in classes()]
    wf = manifest(Workflow, "wf", {"roles": roles})
    assert isinstance(wf, Workflow)
    return wf


def arguments(plugin: FairMQPlugin | None = None) -> dict[str, tuple[str, ...]]:
    expansion = expand(environment(), workflow(), classes(), run_number=None, fairmq=plugin)
    return {t.path: t.spec.command.arguments for t in expansion.tasks.values()}


def test_fairmq_task_gets_its_task_name_as_id_and_the_occlite_plugin_by_default() -> None:
    assert arguments()["stfb"] == ("-v", "--id", "env-1-stfb", *DEFAULT_TAIL)


def test_an_id_the_class_gives_is_kept_and_not_repeated() -> None:
    assert arguments()["named"] == ("--id", "stfb-1", *DEFAULT_TAIL)


def test_other_control_modes_get_nothing_appended() -> None:
    args = arguments()
    assert (args["readout"], args["cleanup"]) == (("x",), ("-f", "y"))


def test_the_plugin_settings_are_what_is_appended() -> None:
    plugin = FairMQPlugin("OCC", "/opt/o2/lib/")
    assert arguments(plugin)["stfb"] == (
        *("-v", "--id", "env-1-stfb"),
        *("-S", "/opt/o2/lib/", "-P", "OCC", "--color", "false"),
    )


def test_controller_flags_and_variables_set_the_plugin() -> None:
    env = {"O2_FMQ_PLUGIN_SEARCH_PATH": "/env/lib/"}
    settings = parse_args(["--fmq-plugin", "OCC"], env=env).settings.environments
    assert (settings.fmq_plugin, settings.fmq_plugin_search_path) == ("OCC", "/env/lib/")
    defaults = parse_args([], env={}).settings.environments
    assert (defaults.fmq_plugin, defaults.fmq_plugin_search_path) == (
        "OCClite",
        "$CONTROL_OCCPLUGIN_ROOT/lib/",
    )


def test_a_plugin_aliecs_does_not_know_is_refused_naming_the_flag(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        parse_args(["--fmq-plugin", "ODC"], env={})
    assert "--fmq-plugin / $O2_FMQ_PLUGIN: 'ODC' is not a FairMQ OCC plugin" in (
        capsys.readouterr().err
    )
