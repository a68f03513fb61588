"""Integration plugins: `func:` hooks of a real environment (etcd, the environment controller),
testplugin and DCS against a stand-in server generated from dcs.proto."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from controller.environments.expansion import Hook
from controller.environments.hooks import call_plugin
from controller.integration import PluginCaller, PluginSettings
from controller.integration.dcspb import dcs_pb2 as pb
from controller.settings import EnvironmentSettings
from controller.tasks.status import _arguments
from crds.errors import ValidationError
from crds.kinds.workflow import Role, Workflow
from crds.manifest import parse_documents
from crds.moments import parse_moment
from crds.plugins import SHIPPED, known_functions
from tests.environments.helpers import fresh, samples
from tests.environments.test_controller import Harness
from tests.integration.dcs_standin import StandInDcs, serve


def call(
    name: str, trigger: str, *, func: str = "", command: tuple[str, ...] = (), **extra: object
) -> Role:
    body: dict[str, object] = {"trigger": trigger, **extra}
    body.update({"func": func} if func else {"command": list(command)})
    return Role.model_validate({"name": name, "call": body})


def with_roles(workflow: Workflow, *roles: Role, drop_calls: bool = True) -> Workflow:
    kept = tuple(r for r in workflow.spec.roles if not (drop_calls and r.call is not None))
    spec = workflow.spec.model_copy(update={"roles": (*kept, *roles)})
    return workflow.model_copy(update={"spec": spec})


async def start(
    h: Harness, *roles: Role, vars: dict[str, str], settings: EnvironmentSettings | None = None
) -> None:
    env, workflow, classes = samples()
    h.start_controller(settings=settings)
    for tc in classes.values():
        await h.store.create(tc)
    await h.store.create(with_roles(workflow, *roles))
    spec = env.spec.model_copy(update={"vars": {**env.spec.vars, **vars}})
    await h.store.create(fresh(env).model_copy(update={"spec": spec}))


async def test_returned_variables_reach_later_hooks_status_and_tasks_at_start(
    h: Harness, tmp_path: Path
) -> None:
    marker = tmp_path / "seen.txt"
    code = f"import sys; open({str(marker)!r}, 'w').write(sys.argv[1])"
    values = {"fill_info_fill_number": "8123", "odc_topology": "epn.xml"}
    await start(
        h,
        call("set", "before_START_ACTIVITY", func="testplugin.Set()"),
        call("test", "before_START_ACTIVITY", func="testplugin.Test()"),
        call(
            "show",
            "before_START_ACTIVITY+10",
            command=("python3", "-c", code, "{{ odc_topology }}/{{ fill_info_fill_number }}"),
        ),
        vars={"testplugin_set": json.dumps(values)},
    )
    env = await h.wait_state("physics-1", "RUNNING")
    assert marker.read_text() == "epn.xml/8123"
    assert env.status.plugin_vars == {**values, "test_called": "true"}
    for task in h.tasks("physics-1").values():
        args = _arguments(task, "START")
        assert args["fill_info_fill_number"] == args["fillInfoFillNumber"] == "8123"
        assert args["odc_topology"] == "epn.xml" and args["test_called"] == "true"
        assert args["run_number"] == str(env.status.run_number)


async def test_failing_plugin_call_sends_the_environment_to_error_with_its_reason(
    h: Harness,
) -> None:
    await start(
        h,
        call("test", "before_START_ACTIVITY", func="testplugin.Test()"),
        vars={"testplugin_fail": "true"},
    )
    env = await h.wait_state("physics-1", "ERROR")
    assert "error triggered in testplugin.Test call" in env.status.message


async def test_plugin_call_past_its_timeout_fails_and_never_blocks_the_loop() -> None:
    moment = parse_moment("before_START_ACTIVITY")
    hook = Hook(
        "sleepy",
        (),
        moment,
        moment,
        0.2,
        True,
        func="testplugin.Sleep",
        vars=(("testplugin_sleep", "3s"),),
    )
    caller = PluginCaller()
    try:
        result = await call_plugin(hook, caller)
    finally:
        caller.close()
    assert not result.ok and "timed out after 0.2s" in result.message


def test_unknown_plugin_or_function_is_refused_at_apply() -> None:
    text = """
apiVersion: o2/v1alpha1
kind: Workflow
metadata: {name: wf}
spec:
  roles:
    - name: a
      call: {func: "bkp.UpdateRunStop()", trigger: STOP_ACTIVITY}
    - name: b
      call: {func: "dcs.Nonsense()", trigger: STOP_ACTIVITY}
"""
    with pytest.raises(ValidationError) as caught:
        parse_documents(text, source="wf.yaml")
    messages = " | ".join(f"{e.path}: {e.message}" for e in caught.value.errors)
    assert "unknown plugin 'bkp'" in messages and "testplugin" in messages
    assert "plugin 'dcs' has no function 'dcs.Nonsense'" in messages
    assert "dcs.StartOfRun" in messages


def test_shipped_plugins_are_declared_in_pyproject() -> None:
    import tomllib

    data = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    assert data["project"]["entry-points"]["o2.plugins"] == SHIPPED
    assert set(SHIPPED) <= set(known_functions())


@pytest.fixture
def dcs() -> Iterator[tuple[StandInDcs, str]]:
    servicer = StandInDcs()
    server, endpoint = serve(servicer)
    yield servicer, endpoint
    server.stop(None)


async def test_dcs_start_and_end_of_run_send_the_run_detectors_and_argument_maps(
    h: Harness, dcs: tuple[StandInDcs, str]
) -> None:
    servicer, endpoint = dcs
    await start(
        h,
        call("dcs-sor", "before_START_ACTIVITY", func="dcs.StartOfRun()", timeout="5s"),
        call("dcs-eor", "after_STOP_ACTIVITY", func="dcs.EndOfRun()", timeout="5s"),
        vars={
            "dcs_detectors": '["TPC", "TST"]',
            "dcs_sor_parameters": '{"mode": "general", "shared": "yes"}',
            "tpc_dcs_sor_parameters": '{"mode": "tpc"}',
            "dcs_eor_parameters": '{"eor": "1"}',
        },
        settings=EnvironmentSettings(dcs_endpoint=endpoint),
    )
    env = await h.wait_state("physics-1", "RUNNING")
    run = env.status.run_number
    await h.edit("physics-1", state="CONFIGURED")
    await h.wait_state("physics-1", "CONFIGURED")
    (sor_method, sor), (eor_method, eor) = servicer.requests
    assert (sor_method, eor_method) == ("StartOfRun", "EndOfRun")
    assert sor.runNumber == eor.runNumber == run
    assert [pb.Detector.Name(d.detector) for d in sor.detectors] == ["TPC", "AGD"]
    assert dict(sor.detectors[0].extraParameters) == {"mode": "tpc", "shared": "yes"}
    assert dict(sor.detectors[1].extraParameters) == {"mode": "general", "shared": "yes"}
    assert sor.runType == pb.PHYSICS  # the sample environment's run type
    assert [dict(d.extraParameters) for d in eor.detectors] == [{"eor": "1"}, {"eor": "1"}]


async def test_dcs_failure_of_a_detector_fails_the_call_naming_it(
    dcs: tuple[StandInDcs, str],
) -> None:
    servicer, endpoint = dcs
    servicer.fail = frozenset({"TPC"})
    moment = parse_moment("before_START_ACTIVITY")
    stack = (("dcs_detectors", '["TPC", "ITS"]'), ("run_number", "7"), ("environment_id", "e"))
    hook = Hook("sor", (), moment, moment, 5.0, True, func="dcs.StartOfRun", vars=stack)
    caller = PluginCaller(PluginSettings(dcs_endpoint=endpoint))
    try:
        result = await call_plugin(hook, caller)
    finally:
        caller.close()
    assert not result.ok and "DCS StartOfRun failed for TPC (SOR_FAILURE)" in result.message
