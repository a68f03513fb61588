"""Launches racing the periodic reconciliation on the real stack: every Task is launched once.

Real etcd, the local cluster with hollow agents (o2's hollow executor answers as the o2
executor would) and the task controller as a subprocess, reconciling every 50 ms while a burst
of launches goes out, one ACCEPT per agent. A RECONCILE that reached the master before an
ACCEPT it overtook was answered "unknown"; read after the ACCEPT it sent the Task back to
Pending, the Task was launched a second time and its first process was killed as a stray.
Every Task's Mesos task ids are recorded from an etcd watch: exactly one each."""

from __future__ import annotations

from collections.abc import Callable
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
RECONCILE_OFTEN = {"O2_TASK_RECONCILE_PERIOD": "0.05"}


def hollow_agents() -> str:
    return "".join(
        f"- {{hostname: flp-{i}, hollow: true, attributes: {{slot: s{i}}},\n"
        f'   resources: {{cpus: 64, mem: 65536, ports: "[31000-31999]"}}}}\n'
        for i in range(AGENTS)
    )


def pinned_task(name: str, agent: int) -> Task:
    """A sample Task on agent `agent` (so each agent gets one ACCEPT of PER_AGENT tasks)."""
    return sample_task(name, constraints=(Constraint(attribute="slot", value=f"s{agent}"),))


class Launches:
    """Every Task's Mesos task ids as an etcd watch shows them, and those seen Running."""

    def __init__(self, names: list[str]) -> None:
        self.names = names
        self.ids: dict[str, set[str]] = {}
        self.running: dict[str, set[str]] = {}
        self.current: dict[str, Task] = {}

    def observe(self, event: WatchEvent[Task]) -> None:
        task = event.obj
        if task is None:
            return
        self.current[event.name] = task
        mesos_id = task.status.mesos_task_id
        if mesos_id:
            self.ids.setdefault(event.name, set()).add(mesos_id)
            if task.status.phase == "Running":
                self.running.setdefault(event.name, set()).add(mesos_id)

    def all_standby(self) -> bool:
        return all(
            (t := self.current.get(n)) is not None
            and t.status.phase == "Running"
            and t.status.state == "STANDBY"
            for n in self.names
        )

    def some_launched(self) -> bool:
        return len(self.ids) >= PER_AGENT

    def failure(self) -> str:
        phases = sorted({t.status.phase for t in self.current.values()})
        return f"{len(self.ids)} of {len(self.names)} launched; phases {phases}"

    async def until(self, store: Store, done: Callable[[], bool]) -> None:
        await watch_until(
            store, Task, observe=self.observe, done=done, within=60, failure=self.failure
        )


async def create_burst(store: Store) -> list[str]:
    names = [f"burst-{i}" for i in range(AGENTS * PER_AGENT)]
    for i, name in enumerate(names):
        await store.create(pinned_task(name, i % AGENTS))
    return names


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
    manager = ManagerProcess(command, log_path=tmp_path / "manager.log", env=RECONCILE_OFTEN)
    try:
        launches = Launches(await create_burst(store))
        await launches.until(store, launches.all_standby)
    finally:
        manager.stop()
    twice = {n: ids for n, ids in launches.ids.items() if len(ids) > 1}
    strays = manager.logs().count("Killing stray")
    assert not twice, f"{len(twice)} tasks launched more than once, {strays} strays killed"
    assert strays == 0


async def test_a_leader_killed_mid_burst_leaves_one_process_per_task(
    etcd_server: EmbeddedEtcd,
    store: Store,
    localmesos_factory: LocalMesosFactory,
    tmp_path: Path,
) -> None:
    """The term ends between launch status writes and ACCEPTs: the next leader subscribes
    (the master then refuses the old stream's calls) and reconciles; a launch whose ACCEPT
    never landed is launched again, one that landed is adopted. No Task is ever Running under
    two Mesos task ids, and nothing is killed as a stray."""
    hollow = ("--hollow-responder", RESPONDER)
    cluster = start_cluster(localmesos_factory, tmp_path, hollow_agents(), extra_args=hollow)
    command = manager_command(
        etcd=etcd_server.endpoint, prefix=store.prefix, mesos=cluster.address, controllers=TASKS
    )
    first = ManagerProcess(command, log_path=tmp_path / "first.log", env=RECONCILE_OFTEN)
    second: ManagerProcess | None = None
    try:
        launches = Launches(await create_burst(store))
        await launches.until(store, launches.some_launched)
        first.kill9()
        second = ManagerProcess(command, log_path=tmp_path / "second.log", env=RECONCILE_OFTEN)
        await launches.until(store, launches.all_standby)
    finally:
        first.kill9()
        if second is not None:
            second.stop()
    assert second is not None
    twice = {n: ids for n, ids in launches.running.items() if len(ids) > 1}
    assert not twice, f"Running under two launches: {twice}"
    assert "Killing stray" not in first.logs() + second.logs()
