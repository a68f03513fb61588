"""Configuration on the real stack: local Mesos cluster, the o2 executor, sample-task processes,
and a controller manager subprocess running the task, environment and ComponentConfig
controllers. What a task logs at CONFIGURE is what `o2 config show --render` prints."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from crds.conditions import get_condition
from crds.kinds.componentconfig import ComponentConfig
from crds.kinds.environment import Environment
from crds.kinds.event import Event
from crds.kinds.task import Task
from store.api import Store
from store.embedded import EmbeddedEtcd
from tests.configs.conftest import O2Config, wait_for
from tests.configs.factories import cc, version_is
from tests.environments.test_e2e import apply_sample as apply_env_sample
from tests.environments.test_e2e import (
    cluster,
    localmesos_factory,
    manager,
    manager_factory,
    reached,
    sandbox_stdout,
    store,
    wait_env,
)
from tests.mesos_fixture import LocalMesosProcess
from tests.stack import ManagerProcess
from tests.waiting import eventually

__all__ = ["cluster", "localmesos_factory", "manager", "manager_factory", "store"]

CONTROLLERS = (
    "controller.tasks.controller:TaskReconciler",
    "controller.environments.controller:EnvironmentReconciler",
    "controller.configs.controller:ComponentConfigReconciler",
)
READOUT_INI = "[readout]\ndetector = {{ detector }}\nrate = {{ rate }}\n"


@pytest.fixture
def controllers() -> tuple[str, ...]:
    return CONTROLLERS


async def apply_sample(store: Store) -> None:
    """The sample, with the readout class pushing `config("readout")` at CONFIGURE, run type
    PHYSICS, desired state CONFIGURED."""
    readout = {"config": '{{ config("readout") }}'}
    await apply_env_sample(
        store, properties={"readout": readout}, run_type="PHYSICS", state="CONFIGURED"
    )


def configured_properties(log: Path) -> list[dict[str, str]]:
    """The properties of every CONFIGURE the sample task logged, in order."""
    marker = "transition CONFIGURE -> CONFIGURED"
    lines = [line for line in log.read_text().splitlines() if marker in line]
    return [json.loads(line.split(" properties=", 1)[1]) for line in lines]


def pending_is(value: str) -> Callable[[Environment | None], bool]:
    def check(env: Environment | None) -> bool:
        cond = None if env is None else get_condition(env.status.conditions, "ConfigChangePending")
        return cond is not None and cond.status == value

    return check


async def test_task_receives_what_config_show_renders_and_is_reconfigured_on_change(
    store: Store,
    etcd_server: EmbeddedEtcd,
    cluster: LocalMesosProcess,
    manager: ManagerProcess,
) -> None:
    await store.create(cc("readout-any", fmt="ini", data="[readout]\nrate = 1\n"))
    await store.create(cc("readout-physics", run_type="PHYSICS", fmt="ini", data=READOUT_INI))
    # The manager subprocess has just been started: its imports, leader election and first
    # list take seconds on a loaded machine, so the first reconcile gets the stack's bound.
    await wait_for(store, ComponentConfig, "readout-physics", version_is(1), within=60)
    await apply_sample(store)
    await wait_env(store, reached("CONFIGURED"), within=60)
    refs = {"readout/main": "readout-physics@1"}
    await wait_env(store, lambda e: e.status.config_versions == refs, within=10)

    readout = await store.get(Task, "physics-1-flp-tpc-readout")
    assert readout.status.mesos_task_id is not None and readout.status.pid is not None
    log = sandbox_stdout(cluster, readout.status.mesos_task_id)
    o2config = O2Config(endpoint=etcd_server.endpoint, prefix=store.prefix)
    shown = await o2config(
        "show", "readout", "main", "--run-type", "PHYSICS", "--role", "flp-TPC.readout",
        "--render", "--var", "detector=TPC", "--var", "rate=200",
    )  # fmt: skip
    assert shown.exit_code == 0, shown.stderr
    assert configured_properties(log)[-1]["config"] == shown.stdout

    current = await store.get(ComponentConfig, "readout-physics")
    new_spec = current.spec.model_copy(update={"data": READOUT_INI + "links = 12\n"})
    await store.update(current.model_copy(update={"spec": new_spec}))
    await eventually(lambda: len(configured_properties(log)) == 2, within=60)
    assert configured_properties(log)[-1]["config"].endswith("links = 12\n")
    assert "transition RESET -> STANDBY" in log.read_text()

    def recorded_v2(e: Environment | None) -> bool:
        refs = {} if e is None else e.status.config_versions
        return refs == {"readout/main": "readout-physics@2"} and pending_is("False")(e)

    await wait_for(store, Environment, "physics-1", recorded_v2)
    after = await store.get(Task, "physics-1-flp-tpc-readout")
    assert after.status.pid == readout.status.pid

    def marked(events: list[Event]) -> list[str]:
        return [
            e.spec.message
            for e in events
            if e.spec.reason == "ConfigChangePending" and e.spec.involved_object.name == "physics-1"
        ]

    events = await eventually(  # Events are written by a background recorder
        lambda: store.list(Event),
        until=lambda listed: marked(listed.items),
        within=10,
        interval=0.05,
        message="a ComponentConfig change Event",
    )
    messages = marked(events.items)
    assert "componentconfig/readout-physics v1 -> v2" in messages[0]
