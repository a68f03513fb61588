"""Launches racing the periodic reconciliation on the real stack: every Task is launched once.

Real etcd, the local cluster with hollow agents (o2's hollow executor answers as the o2
executor would) and the task controller as a subprocess, reconciling every 50 ms while a burst
of launches goes out, one ACCEPT per agent. A RECONCILE that reached the master before an
ACCEPT it overtook was answered "unknown"; read after the ACCEPT it sent the Task back to
Pending, the Task was launched a second time and its first process was killed as a stray.
Every Task's Mesos task ids are recorded from an etcd watch: exactly one each."""

from __future__ import annotations

from pathlib import Path

import pytest

from crds.kinds.common import Constraint
from crds.kinds.task import Task
from store.api import Store, WatchEvent
from store.embedded import EmbeddedEtcd
from tests.stack import (
    LocalMesosFactory,
    ManagerProcess,
    manager_command,
    start_cluster,
    watch_until,
)
from tests.tasks.conftest import TASKS
from tests.tasks.harness import sample_task

pytestmark = pytest.mark.slow

AGENTS = 10
PER_AGENT = 12
RESPONDER = "hack.bench.tasks_bench:O2Responder"


def hollow_agents() -> str:
    return "".join(
        f"- {{hostname: flp-{i}, hollow: true, attributes: {{slot: s{i}}},\n"
        f'   resources: {{cpus: 64, mem: 65536, ports: "[31000-31999]"}}}}\n'
        for i in range(AGENTS)
    )


def pinned_task(name: str, agent: int) -> Task:
    """A sample Task on agent `agent` (so each agent gets one ACCEPT of PER_AGENT tasks)."""
    return sample_task(name, constraints=(Constraint(attribute="slot", value=f"s{agent}"),))


async def test_tasks_launched_while_reconciling_are_launched_once(
    etcd_server: EmbeddedEtcd,
    store: Store,
    localmesos_factory: LocalMesosFactory,
    tmp_path: Path,
) -> None:
    hollow = ("--hollow-responder", RESPONDER)
    cluster = start_cluster(localmesos_factory, tmp_path, hollow_agents(), extra_args=hollow)
    command = manager_command(
        etcd=etcd_server.endpoint, prefix=store.prefix, mesos=cluster.address, controllers=TASKS
    )
    manager = ManagerProcess(
        command,
        log_path=tmp_path / "manager.log",
        env={"O2_TASK_RECONCILE_PERIOD": "0.05"},
    )
    launches: dict[str, set[str]] = {}
    current: dict[str, Task] = {}

    def observe(event: WatchEvent[Task]) -> None:
        if event.obj is None:
            return
        current[event.name] = event.obj
        if event.obj.status.mesos_task_id:
            launches.setdefault(event.name, set()).add(event.obj.status.mesos_task_id)

    names = [f"burst-{i}" for i in range(AGENTS * PER_AGENT)]
    try:
        for i, name in enumerate(names):
            await store.create(pinned_task(name, i % AGENTS))
        await watch_until(
            store,
            Task,
            observe=observe,
            done=lambda: all(
                n in current
                and current[n].status.phase == "Running"
                and current[n].status.state == "STANDBY"
                for n in names
            ),
            within=60,
            failure=lambda: f"not all Running: {sorted(launches.items())[:3]}",
        )
    finally:
        manager.stop()
    twice = {n: ids for n, ids in launches.items() if len(ids) > 1}
    strays = manager.logs().count("Killing stray")
    assert not twice, f"{len(twice)} tasks launched more than once, {strays} strays killed"
    assert strays == 0
