"""Data really flows: readout -> stfbuilder over ipc on one agent, stfbuilder -> stfsender over
tcp across two agents, on the real stack (local Mesos cluster, o2 executor, sample-task
processes opening their channels with ZeroMQ, the controller manager as a subprocess)."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path

import pytest
import yaml

from cli.describe_printers import channel_rows
from crds.kinds.environment import Environment
from crds.kinds.task import Task
from crds.kinds.taskclass import TaskClass
from crds.kinds.workflow import Workflow
from store.api import Store
from tests.environments.test_e2e import (
    controllers,
    localmesos_factory,
    manager,
    manager_factory,
    reached,
    sandbox_stdout,
    store,
    wait_env,
)
from tests.mesos_fixture import LocalMesosProcess
from tests.stack import SAMPLE_TASK, LocalMesosFactory, ManagerProcess, port_slice, start_cluster
from tests.waiting import eventually

__all__ = ["controllers", "localmesos_factory", "manager", "manager_factory", "store"]

AGENTS = """
- hostname: localhost
  resources: {{cpus: 8, mem: 8192, ports: "[{a}-{a_end}]"}}
  attributes: {{machine_id: flp1}}
- hostname: {other}
  resources: {{cpus: 8, mem: 8192, ports: "[{b}-{b_end}]"}}
  attributes: {{machine_id: epn1}}
"""
WORKFLOW = """
apiVersion: o2/v1alpha1
kind: Workflow
metadata: {name: dataflow}
spec:
  roles:
    - name: flp
      constraints: [{attribute: machine_id, value: flp1}]
      roles:
        - name: readout
          task: {class: readout}
          bind: [{name: readout, type: push, addressing: ipc}]
        - name: stfb
          task: {class: stfbuilder}
          connect:
            - {name: readout, type: pull, target: "{{ parent_role_path }}.readout:readout"}
          bind: [{name: stf, type: push, global: stf}]
    - name: epn
      constraints: [{attribute: machine_id, value: epn1}]
      roles:
        - name: stfs
          task: {class: stfsender}
          connect: [{name: stf, type: pull, target: "::stf"}]
"""
TASKCLASS = """
apiVersion: o2/v1alpha1
kind: TaskClass
metadata: {{name: {name}}}
spec:
  command: {{value: {command}, arguments: ["--detector", "{name}", "--tick", "0.5"]}}
  control: direct
  wants: {{cpus: 0.1, memory: 64}}
"""
REPORT = re.compile(r"^channels sent=(\{.*\}) received=(\{.*\})$")


def other_hostname() -> str:
    """A second name of this machine that resolves (the agents share it, as hosts would)."""
    name = socket.gethostname()
    try:
        socket.gethostbyname(name)
    except OSError:
        pytest.skip(f"this machine's hostname {name!r} does not resolve")
    if name == "localhost":
        pytest.skip("this machine's hostname is localhost")
    return name


@pytest.fixture
def cluster(localmesos_factory: LocalMesosFactory, tmp_path: Path) -> LocalMesosProcess:
    base = port_slice(200)
    agents = AGENTS.format(
        a=base, a_end=base + 99, b=base + 100, b_end=base + 199, other=other_hostname()
    )
    return start_cluster(localmesos_factory, tmp_path, agents)


def last_report(log: Path) -> tuple[dict[str, int], dict[str, int]]:
    found = [REPORT.match(line) for line in log.read_text().splitlines()]
    matches = [m for m in found if m]
    if not matches:
        return {}, {}
    return json.loads(matches[-1].group(1)), json.loads(matches[-1].group(2))


async def apply(store: Store) -> None:
    for name in ("readout", "stfbuilder", "stfsender"):
        doc = yaml.safe_load(TASKCLASS.format(name=name, command=SAMPLE_TASK))
        await store.create(TaskClass.model_validate(doc))
    await store.create(Workflow.model_validate(yaml.safe_load(WORKFLOW)))
    env = {"apiVersion": "o2/v1alpha1", "kind": "Environment", "metadata": {"name": "df"},
           "spec": {"workflow": "dataflow", "state": "RUNNING"}}  # fmt: skip
    await store.create(Environment.model_validate(env))


async def desire(store: Store, state: str) -> None:
    env = await store.get(Environment, "df")
    spec = env.spec.model_copy(update={"state": state})
    await store.update(env.model_copy(update={"spec": spec}))


async def test_data_flows_readout_to_stfbuilder_to_stfsender_across_two_agents(
    store: Store, cluster: LocalMesosProcess, manager: ManagerProcess
) -> None:
    await apply(store)
    await wait_env(store, reached("RUNNING"), within=90)
    readout = await store.get(Task, "df-flp-readout")
    stfb = await store.get(Task, "df-flp-stfb")
    stfs = await store.get(Task, "df-epn-stfs")
    assert readout.status.hostname == stfb.status.hostname == "localhost"
    assert stfs.status.hostname == other_hostname()

    # ipc on one agent: both sides use the same allocated address
    ipc = readout.status.channels["readout"]
    assert ipc.startswith("ipc://@o2ipc-")
    assert readout.spec.properties["chans.readout.0.address"] == ipc
    assert readout.spec.properties["chans.readout.0.method"] == "bind"
    assert stfb.spec.properties["chans.readout.0.address"] == ipc
    assert stfb.spec.properties["chans.readout.0.method"] == "connect"
    # tcp across agents: the connect side's address is the bind side's host:port
    port = int(stfb.status.channels["stf"].rsplit(":", 1)[1])
    assert stfb.status.channels["stf"] == f"tcp://localhost:{port}"
    assert stfb.spec.properties["chans.stf.0.address"] == f"tcp://*:{port}"
    assert stfs.spec.properties["chans.stf.0.address"] == f"tcp://{stfb.status.hostname}:{port}"

    graph = channel_rows((await store.list(Task)).items)  # what `o2 describe env` prints
    assert graph == [
        ["epn.stfs:stf", "::stf", "pull", f"tcp://localhost:{port}"],
        ["flp.stfb:readout", "flp.readout:readout", "pull", ipc],
    ]

    logs = {}
    for task in (readout, stfb, stfs):
        assert task.status.mesos_task_id is not None
        logs[task.name] = sandbox_stdout(cluster, task.status.mesos_task_id)

    def flowing() -> bool:
        sent_readout, _ = last_report(logs["df-flp-readout"])
        sent_stfb, got_stfb = last_report(logs["df-flp-stfb"])
        _, got_stfs = last_report(logs["df-epn-stfs"])
        return (
            sent_readout.get("readout", 0) > 0
            and got_stfb.get("readout", 0) > 0
            and sent_stfb.get("stf", 0) > 0
            and got_stfs.get("stf", 0) > 0
        )

    await eventually(flowing, within=30, message="messages at each hop")

    await desire(store, "CONFIGURED")
    await wait_env(store, reached("CONFIGURED"), within=60)
    await desire(store, "DONE")
    await wait_env(store, reached("DONE"), within=60)
    for name, log in logs.items():
        text = log.read_text()
        assert "transition EXIT -> DONE" in text, name
    _, got = last_report(logs["df-epn-stfs"])
    assert got["stf"] > 0
