"""Expansion: names, precedence, iterators, replicas, errors (properties with hypothesis)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.configs.resolve import ConfigIndex
from controller.environments.expand import expand
from crds.errors import TemplateError, ValidationError
from crds.kinds.componentconfig import ComponentConfig
from crds.kinds.environment import Environment
from crds.kinds.taskclass import TaskClass
from crds.kinds.workflow import Workflow
from crds.names import is_dns_label, to_dns_label
from tests.environments.helpers import samples, with_vars

ENV, WORKFLOW, CLASSES = samples()

detector = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_", min_size=1, max_size=12)
detector_sets = st.lists(detector, min_size=0, max_size=8, unique_by=to_dns_label)
"""Detector names that stay distinct as DNS labels (colliding ones are an error, tested apart)."""


def env_with(detectors: list[str], **extra: str) -> Environment:
    return with_vars(ENV, detectors=json.dumps(detectors), **extra)


def workflow(spec: dict[str, object]) -> Workflow:
    return Workflow.model_validate(
        {"apiVersion": "o2/v1alpha1", "kind": "Workflow", "metadata": {"name": "wf"}, "spec": spec}
    )


def site_config(data: str, *, run_type: str = "ANY", fmt: str = "json") -> ComponentConfig:
    """The site defaults (component aliecs, entry defaults) holding `data`."""
    spec = {"component": "aliecs", "entry": "defaults", "format": fmt, "data": data}
    return ComponentConfig.model_validate(
        {
            "apiVersion": "o2/v1alpha1",
            "kind": "ComponentConfig",
            "metadata": {"name": f"site-{run_type.lower()}"},
            "spec": {**spec, "runType": run_type},
        }
    )


def taskclass(name: str, **spec: object) -> TaskClass:
    body = {"command": {"value": "run"}, **spec}
    return TaskClass.model_validate(
        {"apiVersion": "o2/v1alpha1", "kind": "TaskClass", "metadata": {"name": name}, "spec": body}
    )


def test_sample_expands_to_the_documented_tasks() -> None:
    expansion = expand(ENV, WORKFLOW, CLASSES, run_number=None)
    assert list(expansion.tasks) == [
        "physics-1-flp-tpc-readout",
        "physics-1-flp-tpc-stfb",
        "physics-1-qc-0",
    ]
    readout = expansion.tasks["physics-1-flp-tpc-readout"]
    assert readout.path == "flp-TPC.readout"
    assert readout.spec.command.arguments == ("--detector", "TPC")
    assert readout.spec.command.env == {"RATE": "200"}
    assert readout.spec.properties == {"rate": "200", "detector": "TPC"}
    assert [(c.attribute, c.value) for c in readout.spec.constraints] == [("detector", "TPC")]
    assert readout.spec.reusable and readout.spec.environment == "physics-1"
    assert not expansion.tasks["physics-1-qc-0"].spec.critical
    assert expansion.detectors == ("TPC",)


def test_disabled_role_is_skipped_with_its_subtree() -> None:
    expansion = expand(env_with(["ITS"]), WORKFLOW, CLASSES, run_number=None)
    assert "physics-1-flp-its-readout" in expansion.tasks
    assert "physics-1-flp-its-stfb" not in expansion.tasks


def test_hook_gets_run_number_only_when_allocated() -> None:
    before = expand(ENV, WORKFLOW, CLASSES, run_number=None).hooks[0]
    assert before.error and "run_number" in before.error and before.argv == ()
    hook = expand(ENV, WORKFLOW, CLASSES, run_number=42).hooks[0]
    assert hook.argv == ("echo", "start-of-run", "42")
    assert hook.timeout == 10.0 and hook.critical and hook.error == ""
    assert (hook.trigger.when, hook.trigger.what, hook.trigger.weight) == (
        "before",
        "START_ACTIVITY",
        10,
    )


@given(detectors=detector_sets, run=st.integers(min_value=1, max_value=10**6))
@settings(max_examples=25, deadline=None)
def test_a_new_run_number_re_renders_only_the_hooks(detectors: list[str], run: int) -> None:
    env = env_with(detectors)
    before = expand(env, WORKFLOW, CLASSES, run_number=None)
    again = expand(env, WORKFLOW, CLASSES, run_number=run, tasks_from=before)
    full = expand(env, WORKFLOW, CLASSES, run_number=run)
    assert again == full
    assert again.tasks is before.tasks  # reused, not rendered again
    assert again.hooks[0].argv == ("echo", "start-of-run", str(run))


def test_replicas_are_suffixed_from_zero_even_for_one() -> None:
    names = list(expand(with_vars(ENV, qc_replicas="3"), WORKFLOW, CLASSES, run_number=None).tasks)
    assert [n for n in names if "-qc-" in n] == [
        "physics-1-qc-0",
        "physics-1-qc-1",
        "physics-1-qc-2",
    ]


def test_missing_taskclass_is_named() -> None:
    classes = {k: v for k, v in CLASSES.items() if k != "stfbuilder"}
    with pytest.raises(ValidationError, match=r"flp-TPC.stfb.*'stfbuilder' not found"):
        expand(ENV, WORKFLOW, classes, run_number=None)


def test_template_error_names_role_path_and_expression() -> None:
    wf = workflow({"roles": [{"name": "a", "roles": [{"name": "b", "task": {"class": "c"}}]}]})
    classes = {"c": taskclass("c", properties={"p": "{{ undefined_thing }}"})}
    with pytest.raises(TemplateError) as err:
        expand(ENV, wf, classes, run_number=None)
    assert err.value.path == "a.b properties.p"
    assert err.value.expression == "{{ undefined_thing }}"


def test_colliding_task_names_are_an_error_naming_both_roles() -> None:
    wf = workflow(
        {
            "roles": [
                {"name": "a_b", "task": {"class": "c"}},
                {"name": "a", "roles": [{"name": "b", "task": {"class": "c"}}]},
            ]
        }
    )
    with pytest.raises(ValidationError, match="a_b"):
        expand(ENV, wf, {"c": taskclass("c")}, run_number=None)


def test_constraints_merge_deeper_over_shallower_and_class() -> None:
    wf = workflow(
        {
            "roles": [
                {
                    "name": "a",
                    "constraints": [{"attribute": "zone", "value": "outer"}],
                    "roles": [
                        {
                            "name": "b",
                            "constraints": [{"attribute": "zone", "value": "inner"}],
                            "task": {"class": "c"},
                        }
                    ],
                }
            ]
        }
    )
    classes = {
        "c": taskclass(
            "c",
            constraints=[
                {"attribute": "zone", "value": "cls"},
                {"attribute": "rack", "value": "1"},
            ],
        )
    }
    spec = expand(ENV, wf, classes, run_number=None).tasks["physics-1-a-b"].spec
    assert {c.attribute: c.value for c in spec.constraints} == {"zone": "inner", "rack": "1"}


LAYERS = [
    "class_defaults",
    "class_vars",
    "site_defaults",
    "wf_defaults",
    "parent_defaults",
    "child_defaults",
    "wf_vars",
    "parent_vars",
    "child_vars",
    "env_vars",
]


@given(st.sets(st.sampled_from(LAYERS), min_size=1))
def test_precedence_highest_defining_layer_wins(defined: set[str]) -> None:
    def layer(name: str) -> dict[str, str]:
        return {"x": name} if name in defined else {}

    wf = workflow(
        {
            "defaults": layer("wf_defaults"),
            "vars": layer("wf_vars"),
            "roles": [
                {
                    "name": "p",
                    "defaults": layer("parent_defaults"),
                    "vars": layer("parent_vars"),
                    "roles": [
                        {
                            "name": "c",
                            "defaults": layer("child_defaults"),
                            "vars": layer("child_vars"),
                            "task": {"class": "k"},
                        }
                    ],
                }
            ],
        }
    )
    classes = {
        "k": taskclass(
            "k",
            defaults=layer("class_defaults"),
            vars=layer("class_vars"),
            properties={"x": "{{ x }}"},
        )
    }
    env = ENV.model_copy(update={"spec": ENV.spec.model_copy(update={"vars": layer("env_vars")})})
    site = ConfigIndex([site_config(json.dumps(layer("site_defaults")))])
    spec = expand(env, wf, classes, run_number=None, configs=site).tasks["physics-1-p-c"].spec
    assert spec.properties["x"] == max(defined, key=LAYERS.index)


@settings(max_examples=60)
@given(detector_sets)
def test_task_names_are_unique_valid_and_derived_from_paths(detectors: list[str]) -> None:
    expansion = expand(env_with(detectors), WORKFLOW, CLASSES, run_number=None)
    names = list(expansion.tasks)
    assert len(names) == len(set(names))
    assert all(is_dns_label(n) for n in names)
    paths = [t.path for t in expansion.tasks.values()]
    assert len(paths) == len(set(paths))


@settings(max_examples=60)
@given(detector_sets, st.text(alphabet="0123456789", min_size=1, max_size=4))
def test_names_are_stable_when_unrelated_vars_change(detectors: list[str], rate: str) -> None:
    one = expand(env_with(detectors), WORKFLOW, CLASSES, run_number=None)
    two = expand(env_with(detectors, rate=rate, other="x"), WORKFLOW, CLASSES, run_number=7)
    assert list(one.tasks) == list(two.tasks)


@settings(max_examples=60)
@given(detector_sets, detector)
def test_adding_an_iterator_value_adds_only_its_subtree(detectors: list[str], new: str) -> None:
    if to_dns_label(new) in {to_dns_label(d) for d in detectors}:
        return
    before = expand(env_with(detectors), WORKFLOW, CLASSES, run_number=None).tasks
    after = expand(env_with([*detectors, new]), WORKFLOW, CLASSES, run_number=None).tasks
    added = set(after) - set(before)
    assert set(before) <= set(after)
    assert all(before[n] == after[n] for n in before)
    assert added and all(after[n].path.startswith(f"flp-{new}.") for n in added)


def test_role_targeted_environment_vars_override_plain_ones_in_their_subtree() -> None:
    env = with_vars(
        ENV,
        detectors='["TPC", "ITS"]',
        rate="200",
        **{"flp-TPC:rate": "300", "flp-TPC.readout:rate": "999"},
    )
    tasks = expand(env, WORKFLOW, CLASSES, run_number=None).tasks
    assert tasks["physics-1-flp-tpc-readout"].spec.properties["rate"] == "999"
    assert tasks["physics-1-flp-its-readout"].spec.properties["rate"] == "200"
    assert tasks["physics-1-flp-tpc-readout"].spec.command.env == {"RATE": "999"}
