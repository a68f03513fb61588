"""A `fairmq` TaskClass on the real stack (local Mesos, o2 executor, controller manager): the
controller appends AliECS's FairMQ arguments, so the o2 sample task serves OCClite and the
executor drives it over OCClite's JSON in FairMQ states, DEPLOY to RUNNING to DONE."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from crds.kinds.task import Task
from store.api import Store
from tests.environments.helpers import fresh, samples
from tests.environments.test_e2e import (
    cluster,
    controllers,
    edit,
    manager,
    manager_factory,
    reached,
    sandbox_stdout,
    store,
    wait_env,
)
from tests.mesos_fixture import LocalMesosProcess, localmesos_factory
from tests.stack import SAMPLE_TASK, ManagerProcess

__all__ = [
    "cluster",
    "controllers",
    "localmesos_factory",
    "manager",
    "manager_factory",
    "store",
]

pytestmark = pytest.mark.slow

STFB = "physics-1-flp-tpc-stfb"


async def apply_with_fairmq_stfbuilder(store: Store) -> None:
    env, workflow, classes = samples()
    for taskclass in classes.values():
        command = taskclass.spec.command.model_copy(update={"value": SAMPLE_TASK})
        changes: dict[str, object] = {"command": command}
        if taskclass.name == "stfbuilder":
            changes["control"] = "fairmq"
        spec = taskclass.spec.model_copy(update=changes)
        await store.create(taskclass.model_copy(update={"spec": spec}))
    await store.create(workflow)
    await store.create(fresh(env))


async def test_fairmq_task_is_driven_over_occlite_with_the_appended_arguments(
    store: Store, cluster: LocalMesosProcess, manager: ManagerProcess
) -> None:
    await apply_with_fairmq_stfbuilder(store)
    running = await wait_env(store, reached("RUNNING"), within=90)
    assert running.status.run_number == 1
    stfb = await store.get(Task, STFB)
    assert stfb.spec.control == "fairmq"
    assert stfb.spec.command.arguments == (
        *("--detector", "TPC", "--id", STFB),
        *("-S", "$CONTROL_OCCPLUGIN_ROOT/lib/", "-P", "OCClite", "--color", "false"),
    )
    assert stfb.status.state == "RUNNING"
    assert stfb.status.mesos_task_id is not None
    log: Path = sandbox_stdout(cluster, stfb.status.mesos_task_id)
    await edit(store, state="DONE")
    await wait_env(store, reached("DONE"), within=90)
    text = await asyncio.to_thread(log.read_text)
    for line in ("transition START -> RUNNING detector=TPC run_number=1", "EXIT -> DONE"):
        assert line in text, text
