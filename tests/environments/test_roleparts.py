"""Expansion of AliECS's role forms: include roles, same-name alternatives, counted iterators,
TaskClass vars, call `return`, typed public variables and site defaults. Pure."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError as PydanticValidationError

from controller.configs.resolve import ConfigIndex
from controller.environments.expand import expand
from controller.environments.plan import plan
from controller.environments.roleparts import MAX_INCLUDE_DEPTH
from crds.conditions import STALLED, get_condition
from crds.errors import ValidationError
from crds.kinds.workflow import Workflow
from tests.environments.helpers import T0, samples, with_vars
from tests.environments.test_expand import site_config, taskclass

ENV, _, _ = samples()
CLASSES = {"k": taskclass("k", defaults={"x": "-"}, properties={"x": "{{ x }}"})}


def wf(name: str, spec: dict[str, object], *, version: int = 0) -> Workflow:
    meta: dict[str, object] = {"name": name}
    if version:
        meta["resourceVersion"] = version
    return Workflow.model_validate(
        {"apiVersion": "o2/v1alpha1", "kind": "Workflow", "metadata": meta, "spec": spec}
    )


def task(name: str, **extra: object) -> dict[str, object]:
    return {"name": name, "task": {"class": "k"}, **extra}


def props(expansion: object, name: str) -> dict[str, str]:
    tasks = expansion.tasks  # type: ignore[attr-defined]
    return dict(tasks[f"physics-1-{name}"].spec.properties)


# ---- include ---------------------------------------------------------------------------------


QC = wf(
    "qc",
    {
        "defaults": {"x": "qc-default", "y": "qc-y"},
        "roles": [task("merger"), {"name": "inner", "roles": [task("worker")]}],
    },
    version=7,
)


def test_include_expands_the_workflows_roles_under_the_include_roles_name() -> None:
    top = wf("top", {"roles": [{"name": "qc", "include": "qc"}]})
    expansion = expand(ENV, top, CLASSES, run_number=None, workflows={"qc": QC})
    assert expansion.roles() == ["qc.merger", "qc.inner.worker"]
    assert expansion.includes == {"qc": 7}


def test_include_by_aliecs_reference_resolves_the_translated_name() -> None:
    sub = wf("qc-daq-tpc", {"roles": [task("merger")]}, version=3)
    ref = "github.com/AliceO2Group/ControlWorkflows/workflows/QC_DAQ_TPC@master"
    top = wf("top", {"roles": [{"name": "qc", "include": ref}]})
    expansion = expand(ENV, top, CLASSES, run_number=None, workflows={"qc-daq-tpc": sub})
    assert expansion.roles() == ["qc.merger"]
    assert expansion.includes == {"qc-daq-tpc": 3}


def test_included_defaults_sit_above_the_include_roles_own_and_below_its_vars() -> None:
    top = wf(
        "top",
        {
            "roles": [
                {"name": "a", "include": "qc", "defaults": {"x": "mine", "y": "mine"}},
                {"name": "b", "include": "qc", "vars": {"x": "over"}},
            ]
        },
    )
    expansion = expand(ENV, top, CLASSES, run_number=None, workflows={"qc": QC})
    assert props(expansion, "a-merger")["x"] == "qc-default"
    assert props(expansion, "b-merger")["x"] == "over"


def test_include_name_is_a_template() -> None:
    top = wf(
        "top", {"defaults": {"which": "qc"}, "roles": [{"name": "q", "include": "{{ which }}"}]}
    )
    expansion = expand(ENV, top, CLASSES, run_number=None, workflows={"qc": QC})
    assert expansion.roles() == ["q.merger", "q.inner.worker"]


def test_disabled_include_is_never_resolved() -> None:
    top = wf(
        "top",
        {
            "roles": [
                task("t"),
                {"name": "q", "enabled": "false", "include": "{{ nowhere.at_all }}"},
                {"name": "r", "enabled": "false", "include": "missing"},
            ]
        },
    )
    expansion = expand(ENV, top, CLASSES, run_number=None, workflows={})
    assert expansion.roles() == ["t"] and expansion.includes == {}


def test_unknown_included_workflow_is_an_error_naming_role_path_and_name() -> None:
    top = wf("top", {"roles": [{"name": "outer", "roles": [{"name": "q", "include": "nope"}]}]})
    with pytest.raises(ValidationError) as caught:
        expand(ENV, top, CLASSES, run_number=None, workflows={"qc": QC})
    assert "roles outer.q" in str(caught.value) and "'nope'" in str(caught.value)


def test_include_cycle_is_an_error_naming_the_loop() -> None:
    a = wf("a", {"roles": [{"name": "to-b", "include": "b"}]})
    b = wf("b", {"roles": [{"name": "to-a", "include": "a"}]})
    with pytest.raises(ValidationError, match=r"cycle \(a -> b -> a\)"):
        expand(ENV, a, CLASSES, run_number=None, workflows={"a": a, "b": b})


def test_include_depth_is_bounded() -> None:
    chain = {
        f"w{i}": wf(f"w{i}", {"roles": [{"name": "n", "include": f"w{i + 1}"}]})
        for i in range(MAX_INCLUDE_DEPTH + 2)
    }
    chain[f"w{MAX_INCLUDE_DEPTH + 2}"] = wf(f"w{MAX_INCLUDE_DEPTH + 2}", {"roles": [task("t")]})
    with pytest.raises(ValidationError, match="nests deeper than"):
        expand(ENV, chain["w0"], CLASSES, run_number=None, workflows=chain)


def test_hooks_of_included_workflows_are_rendered_on_a_new_run() -> None:
    sub = wf(
        "sub",
        {
            "roles": [
                {"name": "c", "call": {"func": "testplugin.Noop()", "trigger": "START_ACTIVITY"}}
            ]
        },
    )
    top = wf("top", {"roles": [task("t"), {"name": "s", "include": "sub"}]})
    first = expand(ENV, top, CLASSES, run_number=None, workflows={"sub": sub})
    again = expand(ENV, top, CLASSES, run_number=5, workflows={"sub": sub}, tasks_from=first)
    assert [h.path for h in again.hooks] == ["s.c"]
    assert again.includes == first.includes == {"sub": 0}


# ---- same-name alternatives ------------------------------------------------------------------


def alternatives(on_a: str, on_b: str) -> Workflow:
    return wf(
        "top",
        {
            "roles": [
                {"name": "dpl", "enabled": on_a, "roles": [task("a")]},
                {"name": "dpl", "enabled": on_b, "roles": [task("b")]},
            ]
        },
    )


def test_one_enabled_alternative_of_a_name_is_expanded() -> None:
    assert expand(ENV, alternatives("false", "true"), CLASSES, run_number=None).roles() == ["dpl.b"]


def test_two_enabled_alternatives_are_an_error_naming_both() -> None:
    with pytest.raises(ValidationError) as caught:
        expand(ENV, alternatives("true", "{{ 1 == 1 }}"), CLASSES, run_number=None)
    text = str(caught.value)
    assert "roles dpl" in text and "roles[0] (aggregator)" in text and "roles[1]" in text


# ---- counted iterators -----------------------------------------------------------------------


def counted_wf(begin: str, end: str) -> Workflow:
    loop = {"begin": begin, "end": end, "var": "i"}
    return wf(
        "top",
        {
            "defaults": {"n": "3"},
            "roles": [
                {"name": "r{{ i }}", "for": loop, "roles": [task("t", vars={"x": "{{ i }}"})]}
            ],
        },
    )


def test_counted_iterator_includes_its_end() -> None:
    expansion = expand(ENV, counted_wf("1", "{{ n }}"), CLASSES, run_number=None)
    assert expansion.roles() == ["r1.t", "r2.t", "r3.t"]
    assert props(expansion, "r3-t")["x"] == "3"


def test_counted_iterator_with_end_before_begin_is_empty() -> None:
    assert expand(ENV, counted_wf("2", "1"), CLASSES, run_number=None).roles() == []


def test_counted_iterator_needs_whole_numbers() -> None:
    with pytest.raises(ValidationError, match="whole numbers"):
        expand(ENV, counted_wf("1", "three"), CLASSES, run_number=None)


# ---- TaskClass vars --------------------------------------------------------------------------


def test_taskclass_vars_override_its_defaults_and_yield_to_the_workflow() -> None:
    cls = taskclass(
        "k",
        defaults={"base": "/opt", "x": "d", "y": "d"},
        vars={"x": "{{ base }}/bin", "y": "v"},
        properties={"x": "{{ x }}", "y": "{{ y }}"},
    )
    top = wf("top", {"defaults": {"y": "workflow"}, "roles": [task("t")]})
    expansion = expand(ENV, top, {"k": cls}, run_number=None)
    assert props(expansion, "t") == {"x": "/opt/bin", "y": "workflow"}


# ---- call return -----------------------------------------------------------------------------


def test_call_return_names_the_variable_on_the_hook() -> None:
    call = {"func": "testplugin.Noop()", "trigger": "DEPLOY", "return": "result"}
    top = wf("top", {"roles": [{"name": "c", "call": call}]})
    (hook,) = expand(ENV, top, CLASSES, run_number=None).hooks
    assert hook.returns == "result"


# ---- typed public variables ------------------------------------------------------------------


TYPED = wf(
    "typed",
    {
        "variables": {
            "detectors": {"type": "list", "values": ["TPC", "ITS"]},
            "rate": {"type": "number"},
        },
        "defaults": {"detectors": "[]", "rate": "1"},
        "roles": [task("t")],
    },
)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"detectors": "TPC"}, "expected list"),
        ({"detectors": '["TPC","MCH"]'}, "'MCH' not allowed; allowed values: TPC, ITS"),
        ({"rate": "fast"}, "expected number"),
        ({"rate": "{{ 'fa' ~ 'st' }}"}, "got 'fast'"),
        ({"t:rate": "x"}, "spec.vars.t:rate"),
    ],
)
def test_wrong_public_variable_value_stops_the_expansion(
    values: dict[str, str], expected: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        expand(with_vars(ENV, **values), TYPED, CLASSES, run_number=None)
    assert expected in str(caught.value)


def test_right_public_variable_values_expand() -> None:
    env = with_vars(ENV, detectors='["ITS"]', rate="{{ 2 * 3 }}")
    assert expand(env, TYPED, CLASSES, run_number=None).roles() == ["t"]


# ---- site defaults ---------------------------------------------------------------------------


SITE = wf(
    "top",
    {
        "defaults": {"modulepath": "wf"},
        "roles": [task("t", vars={"x": "{{ o2_install_path }}:{{ modulepath }}"})],
    },
)


def test_site_defaults_are_read_below_workflow_defaults_for_the_run_type() -> None:
    configs = ConfigIndex(
        [
            site_config(json.dumps({"o2_install_path": "/any", "modulepath": "site"})),
            site_config("o2_install_path: /physics\n", run_type="PHYSICS", fmt="yaml"),
        ]
    )
    physics = ENV.model_copy(update={"spec": ENV.spec.model_copy(update={"run_type": "PHYSICS"})})
    other = ENV.model_copy(update={"spec": ENV.spec.model_copy(update={"run_type": "COSMICS"})})
    assert props(expand(other, SITE, CLASSES, run_number=None, configs=configs), "t")["x"] == (
        "/any:wf"
    )
    assert props(expand(physics, SITE, CLASSES, run_number=None, configs=configs), "t")["x"] == (
        "/physics:wf"
    )


def test_site_defaults_that_are_no_flat_map_are_an_error_naming_the_config() -> None:
    configs = ConfigIndex([site_config('{"o2_install_path": ["a"]}')])
    with pytest.raises(ValidationError, match=r"ComponentConfig/site-any: spec\.data"):
        expand(ENV, SITE, CLASSES, run_number=None, configs=configs)


def test_wrong_public_variable_stalls_the_environment_naming_it() -> None:
    env = with_vars(ENV, rate="fast")
    result = plan(env, TYPED, CLASSES, [], now=T0)
    stalled = get_condition(result.status.conditions, STALLED)
    assert stalled is not None and stalled.reason == "InvalidWorkflow"
    assert "spec.vars.rate: public variable 'rate': expected number" in stalled.message
    assert not result.create


def test_same_name_siblings_are_allowed_only_when_each_has_enabled() -> None:
    assert alternatives("true", "false").spec.roles[0].name == "dpl"
    with pytest.raises(PydanticValidationError, match="every role of that name has `enabled`"):
        wf(
            "top",
            {"roles": [{"name": "dpl", "enabled": "true", "roles": [task("a")]}, task("dpl")]},
        )
