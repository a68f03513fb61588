"""The sample environment on the real stack: local Mesos cluster with two agents (detector=TPC,
detector=ITS), the real o2 executor and sample-task processes, and the controller manager as a
subprocess running the task controller and the environment controller."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

from crds.errors import ConflictError
from crds.kinds.environment import Environment
from crds.kinds.task import Task
from crds.labels import IDLE_LABEL
from store.api import Store, WatchEvent
from store.embedded import EmbeddedEtcd
from store.etcd import EtcdStore
from tests.environments.helpers import fresh, samples
from tests.mesos_fixture import LocalMesosProcess, localmesos_factory
from tests.stack import (
    SAMPLE_TASK,
    LocalMesosFactory,
    ManagerProcess,
    Managers,
    manager_command,
    port_slice,
    start_cluster,
    watch_until,
)
from tests.waiting import eventually

__all__ = ["localmesos_factory"]

CONTROLLERS = (
    "controller.tasks.controller:TaskReconciler",
    "controller.environments.controller:EnvironmentReconciler",
)
AGENTS = """
- hostname: flp-tpc
  resources: {{cpus: 8, mem: 8192, ports: "[{a}-{a_end}]"}}
  attributes: {{detector: TPC}}
- hostname: flp-its
  resources: {{cpus: 8, mem: 8192, ports: "[{b}-{b_end}]"}}
  attributes: {{detector: ITS}}
"""


@pytest.fixture
def store(etcd_store: EtcdStore) -> Store:
    """The shared per-test etcd store (unique prefix), under the name these tests use."""
    return etcd_store


@pytest.fixture
def controllers() -> tuple[str, ...]:
    """The controllers the manager subprocess runs (other suites override this fixture)."""
    return CONTROLLERS


@pytest.fixture
def cluster(localmesos_factory: LocalMesosFactory, tmp_path: Path) -> LocalMesosProcess:
    base = port_slice(200)
    agents = AGENTS.format(a=base, a_end=base + 99, b=base + 100, b_end=base + 199)
    return start_cluster(localmesos_factory, tmp_path, agents)


ManagerFactory = Callable[[], ManagerProcess]


@pytest.fixture
def manager_factory(
    etcd_server: EmbeddedEtcd,
    store: Store,
    cluster: LocalMesosProcess,
    controllers: tuple[str, ...],
    tmp_path: Path,
) -> Iterator[ManagerFactory]:
    """Start `python -m controller` with `controllers`; every one started is stopped by pid."""
    args = manager_command(
        etcd=etcd_server.endpoint,
        prefix=store.prefix,
        mesos=cluster.address,
        controllers=controllers,
    )
    managers = Managers(args, log_path=tmp_path / "manager.log")
    try:
        yield managers.start
    finally:
        managers.stop_all()


@pytest.fixture
def manager(manager_factory: ManagerFactory) -> ManagerProcess:
    return manager_factory()


async def apply_sample(
    store: Store,
    *,
    properties: Mapping[str, Mapping[str, str]] | None = None,
    **env_spec: object,
) -> None:
    """The sample manifests, run by the real sample-task binary. `properties` adds properties
    to the named task classes; `env_spec` changes the Environment's spec."""
    env, workflow, classes = samples()
    for taskclass in classes.values():
        command = taskclass.spec.command.model_copy(update={"value": SAMPLE_TASK})
        props = {**taskclass.spec.properties, **(properties or {}).get(taskclass.name, {})}
        spec = taskclass.spec.model_copy(update={"command": command, "properties": props})
        await store.create(taskclass.model_copy(update={"spec": spec}))
    await store.create(workflow)
    env = env.model_copy(update={"spec": env.spec.model_copy(update=env_spec)})
    await store.create(fresh(env))


async def run_sample(store: Store) -> Environment:
    """Apply the sample and wait (60 s at most) until physics-1 is RUNNING with every task
    RUNNING: a transition waits for critical tasks only, so the non-critical qc task may join
    the run after the environment's RUNNING."""
    await apply_sample(store)

    def all_running(env: Environment) -> bool:
        counts = env.status.task_counts
        return reached("RUNNING")(env) and counts.get("RUNNING", 0) == env.status.task_total > 0

    return await wait_env(store, all_running, within=60)


async def wait_env(
    store: Store, check: Callable[[Environment], bool], *, within: float
) -> Environment:
    """Until the Environment satisfies `check` (list, then watch: no polling)."""
    last: list[Environment] = []
    found: list[Environment] = []

    def observe(event: WatchEvent[Environment]) -> None:
        if event.obj is not None and not found:
            last[:] = [event.obj]
            if check(event.obj):
                found.append(event.obj)

    await watch_until(
        store,
        Environment,
        observe=observe,
        done=lambda: bool(found),
        within=within,
        failure=lambda: f"environment never got there: {last and last[0].status}",
    )
    return found[0]


def reached(state: str) -> Callable[[Environment], bool]:
    return lambda e: e.status.state == state and e.status.transition is None


async def pids(store: Store) -> dict[str, int | None]:
    return {t.name: t.status.pid for t in (await store.list(Task)).items}


async def edit(store: Store, **changes: object) -> None:
    """Change the spec as an operator does: read, change, write; re-read and retry when the
    controller wrote the environment (its status) in between, as the conflict asks."""
    for _ in range(10):
        env = await store.get(Environment, "physics-1")
        spec = env.spec.model_copy(update=changes)
        try:
            await store.update(env.model_copy(update={"spec": spec}))
            return
        except ConflictError:
            continue
    raise AssertionError("the environment kept changing under 10 spec writes")


async def test_sample_runs_grows_and_reconfigures_without_restarting_processes(
    store: Store, cluster: LocalMesosProcess, manager: ManagerProcess
) -> None:
    env = await run_sample(store)
    assert env.status.run_number == 1
    first = await pids(store)
    assert set(first) == {"physics-1-flp-tpc-readout", "physics-1-flp-tpc-stfb", "physics-1-qc-0"}
    assert all(first.values())

    await edit(store, vars={"detectors": '["TPC", "ITS"]', "rate": "200"})

    def its_running(e: Environment) -> bool:
        return e.status.task_counts.get("RUNNING") == 4 and e.status.task_total == 4

    await wait_env(store, its_running, within=60)
    grown = await pids(store)
    assert {n: grown[n] for n in first} == first
    its = await store.get(Task, "physics-1-flp-its-readout")
    assert its.status.hostname == "flp-its" and its.spec.run_number == 1

    await edit(store, vars={"detectors": '["TPC", "ITS"]', "rate": "500"}, reconfigure="Now")
    readout = await store.get(Task, "physics-1-flp-tpc-readout")
    assert readout.status.mesos_task_id is not None
    log = sandbox_stdout(cluster, readout.status.mesos_task_id)
    reconfigured = '"rate": "500"'
    await eventually(lambda: reconfigured in log.read_text(), within=60)
    await wait_env(store, lambda e: e.status.task_counts.get("RUNNING") == 4, within=60)
    text = log.read_text()
    assert text.index("transition RESET -> STANDBY") < text.index(reconfigured)
    assert (await pids(store)) == grown
    assert (await store.get(Environment, "physics-1")).status.run_number == 1


def sandbox_stdout(cluster: LocalMesosProcess, mesos_task_id: str) -> Path:
    found = list(Path(cluster.work_dir).rglob(f"{mesos_task_id}/stdout"))
    assert found, f"no sandbox for {mesos_task_id} under {cluster.work_dir}"
    return found[0]


async def test_killed_critical_process_sends_environment_to_error_non_critical_does_not(
    store: Store, cluster: LocalMesosProcess, manager: ManagerProcess
) -> None:
    await run_sample(store)
    qc = await store.get(Task, "physics-1-qc-0")
    assert qc.status.pid is not None
    os.kill(qc.status.pid, signal.SIGKILL)
    await wait_env(store, lambda e: e.status.task_counts.get("Failed") == 1, within=30)
    assert (await store.get(Environment, "physics-1")).status.state == "RUNNING"

    readout = await store.get(Task, "physics-1-flp-tpc-readout")
    assert readout.status.pid is not None
    os.kill(readout.status.pid, signal.SIGKILL)
    env = await wait_env(store, reached("ERROR"), within=30)
    assert "physics-1-flp-tpc-readout" in env.status.message
    stfb = await store.get(Task, "physics-1-flp-tpc-stfb")
    assert stfb.spec.state == "CONFIGURED"


async def test_done_environment_leaves_readout_for_the_next_one_to_adopt(
    store: Store, cluster: LocalMesosProcess, manager: ManagerProcess
) -> None:
    await run_sample(store)
    readout = await store.get(Task, "physics-1-flp-tpc-readout")
    await edit(store, state="DONE")
    await wait_env(store, reached("DONE"), within=60)
    idle = await store.get(Task, "physics-1-flp-tpc-readout")
    assert idle.metadata.labels.get(IDLE_LABEL) == "true" and idle.status.pid == readout.status.pid
    env, _, _ = samples()
    await store.create(fresh(env, name="physics-2"))

    def second_running(e: Environment) -> bool:
        return e.metadata.name == "physics-2" and reached("RUNNING")(e)

    await wait_env(store, second_running, within=60)
    adopted = await store.get(Task, "physics-1-flp-tpc-readout")
    assert adopted.spec.environment == "physics-2"
    assert adopted.status.pid == readout.status.pid and adopted.status.state == "RUNNING"


async def test_killed_manager_is_replaced_without_losing_processes_or_run_numbers(
    store: Store, cluster: LocalMesosProcess, manager_factory: ManagerFactory
) -> None:
    first = manager_factory()
    await run_sample(store)
    before = await pids(store)
    first.kill9()
    manager_factory()
    await edit(store, state="CONFIGURED")
    await wait_env(store, reached("CONFIGURED"), within=60)
    await edit(store, state="RUNNING")
    env = await wait_env(store, reached("RUNNING"), within=60)
    assert env.status.run_number == 2 and env.status.last_run_number == 1
    assert await pids(store) == before


def _subscribed_to_a_new_master(cluster: LocalMesosProcess, old_master: str) -> bool:
    """The master came back (a new master id) and the framework re-subscribed to it."""
    try:
        state = cluster.state()
    except OSError:  # refused while the master is down
        return False
    connected = [f for f in state["frameworks"] if f["connected"]]
    return state["master_id"] != old_master and bool(connected)


async def test_restarted_mesos_master_restarts_no_task_and_transitions_go_through(
    store: Store, cluster: LocalMesosProcess, manager: ManagerProcess
) -> None:
    """The STOP is asked while the master is down: its requests to the executors cannot go
    out until o2 has re-subscribed to the new master."""
    await run_sample(store)
    tasks = (await store.list(Task)).items
    before = {t.name: (t.status.mesos_task_id, t.status.pid) for t in tasks}
    assert all(pid for _, pid in before.values())
    answer = cluster.post("/localmesos/master/restart?downtime=1")
    await edit(store, state="CONFIGURED")
    await wait_env(store, reached("CONFIGURED"), within=60)
    assert _subscribed_to_a_new_master(cluster, answer["master"])
    await edit(store, state="RUNNING")
    env = await wait_env(store, reached("RUNNING"), within=60)
    assert env.status.run_number == 2
    after = (await store.list(Task)).items
    assert {t.name: (t.status.mesos_task_id, t.status.pid) for t in after} == before
    assert all(t.status.state == "RUNNING" for t in after)
