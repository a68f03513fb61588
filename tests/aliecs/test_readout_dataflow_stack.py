"""The real `readout-dataflow` of ControlWorkflows (the pinned copy, unmodified, translated as a
GitSource with `format: aliecs` translates it) run on the real stack: two FLP agents carrying
`machine_id`/`detector` attributes, the stand-in ALICE executables of tests/data/aliecs_install
as `o2_install_path`, site defaults in the `aliecs`/`defaults` ComponentConfig, the controller
manager (tasks, environments, nodes) as a subprocess. DEPLOY -> CONFIGURE -> START -> STOP ->
EXIT: readout, StfBuilder and StfSender are placed on each FLP by `machine_id`, their channels
wired (the connect side's address is the bind side's), data flows at each hop, the remote-QC
`testplugin.Noop()` calls are made, the task hooks run on each FLP, and a public variable of the
wrong type is refused."""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import json
import sys
from pathlib import Path

import pytest

from crds.aliecs.load import SourceFile, translate
from crds.kinds.componentconfig import ComponentConfig
from crds.kinds.environment import Environment
from crds.kinds.event import Event
from crds.kinds.node import Node
from crds.kinds.task import Task
from crds.kinds.workflow import Workflow
from crds.labels import HOOK_LABEL
from crds.publicvars import check_values
from store.api import ListResult, Store
from store.apply import apply
from tests.channels.test_e2e import last_report
from tests.environments.test_basic_e2e import HookTasks
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
from tests.stack import LocalMesosFactory, port_slice, start_cluster
from tests.waiting import eventually

__all__ = ["localmesos_factory", "manager", "manager_factory", "store"]

pytestmark = pytest.mark.slow

DATA = Path(__file__).resolve().parents[1] / "data"
PINNED = DATA / "controlworkflows"
INSTALL = DATA / "aliecs_install"
HOSTS = {"flp1": "TPC", "flp2": "ITS"}
AGENTS = """
- hostname: flp1
  resources: {{cpus: 8, mem: 8192, ports: "[{a}-{a_end}]"}}
  attributes: {{machine_id: flp1, detector: TPC}}
- hostname: flp2
  resources: {{cpus: 8, mem: 8192, ports: "[{b}-{b_end}]"}}
  attributes: {{machine_id: flp2, detector: ITS}}
"""
SITE_DEFAULTS = {
    "consul_endpoint": "127.0.0.1:8500",
    "infologger_mode": "stdout",
    "modulepath": "",
}
ENV_VARS = {
    "hosts": json.dumps(sorted(HOSTS)),
    "o2_install_path": str(INSTALL),  # readout-dataflow's own default is /opt/o2
    "user": getpass.getuser(),
    "log_task_stdout": "all",
    "log_task_stderr": "all",
    "qc_remote_enabled": "true",
}
ROLES = ("readout", "data-distribution-stfb", "data-distribution-stfs")


@pytest.fixture
def controllers() -> tuple[str, ...]:
    return (
        "controller.tasks.controller:TaskReconciler",
        "controller.environments.controller:EnvironmentReconciler",
        "controller.nodes.controller:NodeReconciler",
    )


@pytest.fixture
def cluster(
    localmesos_factory: LocalMesosFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> LocalMesosProcess:
    # The executors pass PATH on to the tasks: the stand-ins (numactl included) come first,
    # then this venv's bin, where the stand-ins find o2-sample-task.
    venv_bin = Path(sys.executable).parent
    monkeypatch.setenv("PATH", f"{INSTALL / 'bin'}:{venv_bin}:{Path('/usr/bin')}:{Path('/bin')}")
    base = port_slice(200)
    agents = AGENTS.format(a=base, a_end=base + 99, b=base + 100, b_end=base + 199)
    return start_cluster(localmesos_factory, tmp_path, agents)


def config(name: str, component: str, entry: str, data: str, fmt: str) -> ComponentConfig:
    return ComponentConfig.model_validate(
        {
            "apiVersion": "o2/v1alpha1",
            "kind": "ComponentConfig",
            "metadata": {"name": name},
            "spec": {"component": component, "entry": entry, "format": fmt, "data": data},
        }
    )


async def apply_repository(store: Store) -> None:
    files = [
        SourceFile(str(p.relative_to(PINNED)), p.read_text())
        for p in sorted(PINNED.glob("[wt]*/*.yaml"))
    ]
    for obj in translate(files).objects:
        await apply(store, obj)
    await apply(store, config("site", "aliecs", "defaults", json.dumps(SITE_DEFAULTS), "json"))
    for host in HOSTS:
        for kind in ("stfb", "standalone"):
            entry = f"readout-{kind}-{host}"
            await apply(store, config(entry, "readout", entry, "[readout]\n", "ini"))


async def nodes_known(store: Store) -> None:
    """Until the node controller has a Node for each FLP agent (the inventory templates read)."""

    def machines(listed: ListResult[Node]) -> set[str | None]:
        return {n.status.attributes.get("machine_id") for n in listed.items}

    await eventually(
        lambda: store.list(Node), until=lambda got: machines(got) == set(HOSTS), within=60
    )


async def create_running(store: Store, variables: dict[str, str]) -> None:
    """Environment `rd` of readout-dataflow with `variables`, desired RUNNING."""
    spec = {"workflow": "readout-dataflow", "vars": variables, "state": "RUNNING"}
    await store.create(
        Environment.model_validate(
            {
                "apiVersion": "o2/v1alpha1",
                "kind": "Environment",
                "metadata": {"name": "rd"},
                "spec": spec,
            }
        )
    )


async def edit_state(store: Store, state: str) -> None:
    env = await store.get(Environment, "rd")
    await store.update(
        env.model_copy(update={"spec": env.spec.model_copy(update={"state": state})})
    )


async def test_readout_dataflow_as_it_is_runs_a_full_cycle_on_two_flps(
    store: Store, cluster: LocalMesosProcess, manager: object
) -> None:
    await apply_repository(store)
    workflow = await store.get(Workflow, "readout-dataflow")
    refused = check_values(workflow, {**ENV_VARS, "dd_enabled": "maybe"})  # typed: bool
    assert [e.path for e in refused] == ["spec.vars.dd_enabled"], refused
    assert check_values(workflow, ENV_VARS) == []

    await nodes_known(store)
    hooks = HookTasks()
    watcher = asyncio.get_running_loop().create_task(hooks.watch(store))
    try:
        await create_running(store, ENV_VARS)
        running = await wait_env(store, reached("RUNNING"), within=60)
        assert running.status.run_number == 1
        assert set(running.status.detectors) == {"TPC", "ITS"}

        tasks = {
            t.name: t
            for t in (await store.list(Task)).items
            if not t.metadata.labels.get(HOOK_LABEL)
        }
        for host in HOSTS:
            names = [f"rd-host-{host}-{role}" for role in ROLES]
            assert all(n in tasks for n in names), sorted(tasks)
            readout, stfb, stfs = (tasks[n] for n in names)
            assert {readout.status.hostname, stfb.status.hostname, stfs.status.hostname} == {host}
            # fairmq devices driven over OCClite, with the arguments AliECS appends
            assert stfb.spec.command.arguments[-8:] == (
                *("--id", stfb.name, "-S", "$CONTROL_OCCPLUGIN_ROOT/lib/"),
                *("-P", "OCClite", "--color", "false"),
            ), stfb.spec.command.arguments
            # wired: the connect side gets the address its bound peer holds
            bound = readout.status.channels["readout"]
            assert stfb.spec.properties["chans.readout.0.address"] == bound
            assert stfb.spec.properties["chans.readout.0.method"] == "connect"
            to_sender = stfb.status.channels["buildertosender"]
            assert stfs.spec.properties["chans.buildertosender.0.address"] == to_sender

        logs = {n: sandbox_stdout(cluster, t.status.mesos_task_id or "") for n, t in tasks.items()}

        def flowing() -> bool:
            for host in HOSTS:
                sent, _ = last_report(logs[f"rd-host-{host}-readout"])
                passed, got = last_report(logs[f"rd-host-{host}-data-distribution-stfb"])
                _, sent_on = last_report(logs[f"rd-host-{host}-data-distribution-stfs"])
                hops = (
                    sent.get("readout", 0),
                    got.get("readout", 0),
                    passed.get("buildertosender", 0),
                    sent_on.get("buildertosender", 0),
                )
                if not all(hops):
                    return False
            return True

        await eventually(flowing, within=30, message="messages at each hop on each FLP")

        events = (await store.list(Event)).items
        noop = [
            e
            for e in events
            if e.spec.reason == "HookSucceeded" and "testplugin.Noop" in e.spec.message
        ]
        assert noop, [e.spec.message for e in events if e.spec.reason.startswith("Hook")]

        await edit_state(store, "CONFIGURED")
        stopped = await wait_env(store, reached("CONFIGURED"), within=60)
        assert stopped.status.run_number is None and stopped.status.last_run_number == 1
        await edit_state(store, "DONE")
        await wait_env(store, reached("DONE"), within=60)
        # the before_DEPLOY shm-cleanup hooks ran as Tasks on each FLP agent (their command
        # needs the host's /etc/profile.d/o2.sh; a non-zero exit of these non-critical hooks
        # is only reported, as in AliECS)
        ran_on = {where for name, (where, _) in hooks.ended.items() if "shmcleanup" in name}
        assert ran_on == set(HOSTS), hooks.ended
        for name, log in logs.items():
            if "readout" in name or "stfb" in name or "stfs" in name:
                assert "transition EXIT -> DONE" in log.read_text(), name
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
