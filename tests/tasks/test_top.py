"""`o2 top tasks|nodes` on the real stack: etcd, the local cluster with one real agent (the real
o2 executor and sample tasks as processes), the task and node controllers."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from pathlib import Path
from typing import Any

from crds.kinds.node import Node
from crds.kinds.task import Task
from store.api import Store
from store.embedded import EmbeddedEtcd
from tests.cli.conftest import O2
from tests.cli_ops.conftest import run_o2
from tests.localmesos.test_monitor import assert_mesos_shape
from tests.mesos_fixture import LocalMesosProcess
from tests.stack import Managers, manager_command, watch_until
from tests.tasks.conftest import TASKS
from tests.tasks.harness import sample_task, wait_tasks

NODES = ("controller.nodes.controller:NodeReconciler",)
NAMES = ["physics-1-readout-0", "physics-1-readout-1"]


def in_environment(name: str) -> Task:
    task = sample_task(name)
    spec = task.spec.model_copy(update={"environment": "physics-1", "role": f"readout.{name[-1]}"})
    return task.model_copy(update={"spec": spec})


async def node_for(store: Store, agent_id: str) -> Node:
    found: list[Node] = []

    def observe(event: Any) -> None:
        if event.obj is not None and event.obj.status.agent_id == agent_id:
            found.append(event.obj)

    await watch_until(
        store,
        Node,
        observe=observe,
        done=lambda: bool(found),
        failure=lambda: f"no Node for agent {agent_id}",
        within=20,
    )
    return found[-1]


def agent_statistics(cluster: LocalMesosProcess) -> Any:
    agent = next(a for a in cluster.get("/master/state")["slaves"])
    url = f"http://{agent['pid'].split('@', 1)[1]}/monitor/statistics"
    with urllib.request.urlopen(url, timeout=10) as resp:
        return json.loads(resp.read())


async def test_top_shows_each_tasks_usage_and_the_agents_node(
    etcd_server: EmbeddedEtcd, store: Store, cluster: LocalMesosProcess, tmp_path: Path
) -> None:
    args = manager_command(
        etcd=etcd_server.endpoint,
        prefix=store.prefix,
        mesos=cluster.address,
        controllers=TASKS + NODES,
    )
    managers = Managers(args, log_path=tmp_path / "manager.log")
    managers.start()
    try:
        for name in NAMES:
            await store.create(in_environment(name))
        tasks = await wait_tasks(store, NAMES, lambda t: t.status.state == "STANDBY")
        agent_id = tasks[NAMES[0]].status.agent_id
        assert agent_id is not None
        node = await node_for(store, agent_id)

        statistics = await asyncio.to_thread(agent_statistics, cluster)
        assert [item["executor_id"] for item in statistics] == ["o2-executor"]
        assert_mesos_shape(statistics[0])

        o2 = O2(endpoint=etcd_server.endpoint, prefix=store.prefix)
        mesos = ("--mesos", cluster.address, "--interval", "0.3")
        table, ran = await asyncio.gather(
            run_o2(o2, "top", "tasks", "-e", "physics-1", "--sort", "mem", *mesos),
            run_o2(o2, "top", "nodes", "-o", "json", *mesos),
        )
        assert table.exit_code == 0, table.stderr
        header, *lines = table.stdout.splitlines()
        assert header.split() == [
            "NAME", "ENVIRONMENT", "ROLE", "NODE", "CPU%", "MEMORY", "CPU-LIMIT", "MEM-LIMIT"
        ]  # fmt: skip
        rows = {line.split()[0]: line.split() for line in lines}
        assert sorted(rows) == NAMES
        for row in rows.values():
            assert row[1] == "physics-1" and row[3] == "agent-0" and row[7] == "64Mi", row
            assert row[4].endswith("%") and float(row[4].rstrip("%")) >= 0, row
            assert row[5].endswith(("Mi", "Ki")) and int(row[5][:-2]) > 0, row

        assert ran.exit_code == 0, ran.stderr
        (item,) = json.loads(ran.stdout)["items"]
        assert item["name"] == node.metadata.name and item["agentId"] == agent_id
        assert item["memoryBytes"] > 0 and item["cpuCores"] is not None
        total = node.status.resources.total
        assert item["allocatable"] == {"cpus": total.cpus, "memoryBytes": total.memory << 20}
        assert item["cpuLimit"] >= 0.02  # the two tasks' cpus, and the executor's
    finally:
        managers.stop_all()
