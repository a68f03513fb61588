"""A detector included live in the real `readout-dataflow` while it is RUNNING: the new FLP's
readout, StfBuilder and StfSender are deployed, wired and started into the running run (data
flows on the new FLP), while the first FLP's tasks keep their processes and are neither
reconfigured nor restarted: something AliECS cannot do (it has no ModifyEnvironment)."""

from __future__ import annotations

import json

import pytest

from crds.kinds.environment import Environment
from crds.kinds.task import Task
from crds.labels import HOOK_LABEL
from store.api import Store
from tests.aliecs.test_readout_dataflow_stack import (
    ENV_VARS,
    HOSTS,
    ROLES,
    apply_repository,
    cluster,
    controllers,
    create_running,
    nodes_known,
)
from tests.channels.test_e2e import last_report
from tests.environments.test_e2e import (
    localmesos_factory,
    manager,
    manager_factory,
    reached,
    sandbox_stdout,
    store,
    wait_env,
)
from tests.mesos_fixture import LocalMesosProcess
from tests.waiting import eventually

__all__ = [
    "cluster",
    "controllers",
    "localmesos_factory",
    "manager",
    "manager_factory",
    "store",
]

pytestmark = pytest.mark.slow


async def flp_tasks(store: Store, host: str) -> dict[str, Task]:
    names = {f"rd-host-{host}-{role}" for role in ROLES}
    listed = (await store.list(Task)).items
    return {t.name: t for t in listed if t.name in names and HOOK_LABEL not in t.metadata.labels}


def running_on(host: str):  # type: ignore[no-untyped-def]
    def check(tasks: dict[str, Task]) -> bool:
        return len(tasks) == len(ROLES) and all(
            t.status.state == "RUNNING" and t.status.hostname == host for t in tasks.values()
        )

    return check


async def test_flp_added_while_running_joins_the_run_without_touching_the_first(
    store: Store, cluster: LocalMesosProcess, manager: object
) -> None:
    await apply_repository(store)
    await nodes_known(store)
    first, second = sorted(HOSTS)
    one = {**ENV_VARS, "hosts": json.dumps([first])}
    await create_running(store, one)
    running = await wait_env(store, reached("RUNNING"), within=60)
    assert running.status.detectors == (HOSTS[first],)
    before = await flp_tasks(store, first)
    assert running_on(first)(before)
    launches = {n: (t.status.mesos_task_id, t.status.pid) for n, t in before.items()}
    configured = {n: t.status.configured_properties for n, t in before.items()}

    current = await store.get(Environment, "rd")
    both = {**current.spec.vars, "hosts": json.dumps([first, second])}
    await store.update(
        current.model_copy(update={"spec": current.spec.model_copy(update={"vars": both})})
    )
    added = await eventually(
        lambda: flp_tasks(store, second), until=running_on(second), within=60, interval=0.2
    )
    env_now = await store.get(Environment, "rd")
    assert env_now.status.state == "RUNNING" and env_now.status.run_number == 1
    assert set(env_now.status.detectors) == set(HOSTS.values())

    after = await flp_tasks(store, first)
    assert {n: (t.status.mesos_task_id, t.status.pid) for n, t in after.items()} == launches
    assert {n: t.status.configured_properties for n, t in after.items()} == configured

    readout, stfb = added[f"rd-host-{second}-readout"], added[f"rd-host-{second}-{ROLES[1]}"]
    assert stfb.spec.properties["chans.readout.0.address"] == readout.status.channels["readout"]
    log = sandbox_stdout(cluster, stfb.status.mesos_task_id or "")
    await eventually(
        lambda: last_report(log)[1].get("readout", 0) > 0,
        within=30,
        message="messages from the new FLP's readout reach its StfBuilder",
    )
