"""`{{ config(...) }}` in task templates, through the environment controller's pure core:
resolution per run type and role, status.configVersions, and reconfiguration in place."""

from __future__ import annotations

from typing import Any

import pytest

from controller.configs.pending import pending_condition
from controller.configs.resolve import ConfigIndex
from controller.environments import plan as plan_module
from controller.environments.expand import expand
from crds.conditions import get_condition
from crds.configresolve import render_config
from crds.errors import TemplateError
from crds.kinds.componentconfig import ComponentConfig
from crds.kinds.environment import Environment
from crds.kinds.taskclass import TaskClass
from crds.kinds.workflow import Workflow
from tests.configs.factories import cc, edit, record
from tests.environments import helpers
from tests.environments.helpers import Sim, samples

READOUT_INI = "[readout]\ndetector = {{ detector }}\nrate = {{ rate }}\n"


def with_config_property(classes: dict[str, TaskClass]) -> dict[str, TaskClass]:
    """The sample readout class, also pushing its configuration payload at CONFIGURE."""
    readout = classes["readout"]
    properties = {**readout.spec.properties, "config": '{{ config("readout") }}'}
    spec = readout.spec.model_copy(update={"properties": properties})
    return {**classes, "readout": readout.model_copy(update={"spec": spec})}


def repository() -> list[ComponentConfig]:
    return [
        cc("readout-any", fmt="ini", data="[readout]\nrate = 1\n", recorded=True),
        cc("readout-physics", run_type="PHYSICS", fmt="ini", data=READOUT_INI, recorded=True),
    ]


def planned_with(
    configs: list[ComponentConfig], monkeypatch: pytest.MonkeyPatch
) -> list[ComponentConfig]:
    """Make the simulated environment controller plan with `configs` (edit the list in place
    to change them): it passes them to plan() as the real controller does from its cache."""

    def planner(*args: Any, **kwargs: Any) -> plan_module.Plan:
        return plan_module.plan(*args, **kwargs, configs=ConfigIndex(configs))

    monkeypatch.setattr(helpers, "plan", planner)
    return configs


def sample(run_type: str) -> tuple[Environment, Workflow, dict[str, TaskClass]]:
    env, workflow, classes = samples()
    env = env.model_copy(update={"spec": env.spec.model_copy(update={"run_type": run_type})})
    return env, workflow, with_config_property(classes)


def readout_of(env: Environment, workflow: Workflow, classes: dict[str, TaskClass]) -> str:
    expansion = expand(env, workflow, classes, run_number=None, configs=ConfigIndex(repository()))
    task = next(t for t in expansion.tasks.values() if t.path.endswith("readout"))
    return task.spec.properties["config"]


def test_physics_and_technical_environments_receive_different_payloads() -> None:
    physics = readout_of(*sample("PHYSICS"))
    technical = readout_of(*sample("TECHNICAL"))
    assert physics == "[readout]\ndetector = TPC\nrate = 200\n"
    assert technical == "[readout]\nrate = 1\n"


def test_task_property_is_exactly_what_render_config_gives_for_its_variables() -> None:
    env, workflow, classes = sample("PHYSICS")
    physics = next(c for c in repository() if c.name == "readout-physics")
    shown = render_config(physics, {"detector": "TPC", "rate": "200"})  # o2 config show --render
    assert readout_of(env, workflow, classes) == shown


def test_expansion_records_which_config_versions_tasks_received() -> None:
    env, workflow, classes = sample("PHYSICS")
    expansion = expand(env, workflow, classes, run_number=None, configs=ConfigIndex(repository()))
    assert dict(expansion.config_refs) == {"readout/main": "readout-physics@1"}


def test_unresolvable_config_fails_expansion_naming_config_and_line() -> None:
    env, workflow, classes = sample("PHYSICS")
    broken = [cc("readout-physics", run_type="PHYSICS", data="x = {{ nope }}", recorded=True)]
    with pytest.raises(TemplateError) as err:
        expand(env, workflow, classes, run_number=None, configs=ConfigIndex(broken))
    assert "componentconfig/readout-physics@1 line 1: 'nope' is undefined" in str(err.value)
    with pytest.raises(TemplateError, match="no ComponentConfig for component 'readout'"):
        expand(env, workflow, classes, run_number=None, configs=ConfigIndex([]))


def test_config_change_while_configured_reconfigures_in_place_and_records_new_version(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env, workflow, classes = sample("PHYSICS")
    configs = planned_with(repository(), monkeypatch)
    sim = Sim(env.model_copy(update={"spec": env.spec.model_copy(update={"state": "CONFIGURED"})}),
              workflow, classes, report_digest=True)  # fmt: skip
    settled = sim.settle()
    assert settled.status.state == "CONFIGURED"
    assert settled.status.config_versions == {"readout/main": "readout-physics@1"}
    pids = sim.pids()

    configs[1] = record(edit(configs[1], READOUT_INI.replace("rate =", "rate_hz =")))
    by_name = {c.name: c for c in configs}
    condition = pending_condition(settled, by_name)
    assert condition is not None and condition.status == "True"  # what the controller marks

    settled = sim.settle()
    assert settled.status.state == "CONFIGURED"
    assert settled.status.config_versions == {"readout/main": "readout-physics@2"}
    assert sim.pids() == pids  # reconfigured, never restarted
    readout = next(t for t in sim.tasks.values() if t.spec.role.endswith("readout"))
    assert "rate_hz = 200" in readout.spec.properties["config"]
    condition = pending_condition(settled, by_name)
    assert condition is not None and condition.status == "False"


def test_change_while_running_waits_for_the_next_run_and_stays_pending_until_then(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env, workflow, classes = sample("PHYSICS")
    configs = planned_with(repository(), monkeypatch)
    running = env.model_copy(update={"spec": env.spec.model_copy(update={"state": "RUNNING"})})
    sim = Sim(running, workflow, classes, report_digest=True)
    assert sim.settle().status.state == "RUNNING"
    pids = sim.pids()

    configs[1] = record(edit(configs[1], READOUT_INI.replace("rate =", "rate_hz =")))
    settled = sim.settle()
    assert settled.status.config_versions == {"readout/main": "readout-physics@1"}
    condition = pending_condition(settled, {c.name: c for c in configs})
    assert condition is not None and condition.status == "True"

    sim.set_spec(state="CONFIGURED")
    sim.settle()
    sim.set_spec(state="RUNNING")
    settled = sim.settle()
    assert settled.status.state == "RUNNING"
    assert settled.status.config_versions == {"readout/main": "readout-physics@2"}
    assert sim.pids() == pids


def test_broken_config_edit_while_configured_stalls_and_keeps_tasks_as_configured(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env, workflow, classes = sample("PHYSICS")
    configs = planned_with(repository(), monkeypatch)
    configured = env.model_copy(
        update={"spec": env.spec.model_copy(update={"state": "CONFIGURED"})}
    )
    sim = Sim(configured, workflow, classes, report_digest=True)
    sim.settle()
    before = {name: (t.status.pid, t.spec.properties) for name, t in sim.tasks.items()}

    configs[1] = record(edit(configs[1], "[readout]\nrate = {{ rtae }}\n"))
    settled = sim.settle()
    stalled = get_condition(settled.status.conditions, "Stalled")
    assert stalled is not None and stalled.status == "True"
    assert "componentconfig/readout-physics@2 line 2: 'rtae' is undefined" in stalled.message
    assert settled.status.state == "CONFIGURED"
    assert settled.status.config_versions == {"readout/main": "readout-physics@1"}
    assert {name: (t.status.pid, t.spec.properties) for name, t in sim.tasks.items()} == before
