"""environments_bench --split on the real stack: the environment controller and the task
controller in two manager processes, each leading under its own lease, walk an environment
through DEPLOY, CONFIGURE, START_ACTIVITY and STOP_ACTIVITY together (they talk only through
etcd), and the walk reports each process's CPU and RSS as well as their sums.

Real etcd, the local cluster with one hollow agent (o2's responder), two `python -m controller`
subprocesses started by hack.bench.stack.start_managers."""

from __future__ import annotations

from pathlib import Path

import pytest

from hack.bench.environments_shape import CONTROLLERS, SPLIT, TRANSITIONS
from hack.bench.environments_stack import walk
from hack.bench.stack import start_localmesos, start_managers
from store.embedded import EmbeddedEtcd
from store.etcd import EtcdStore
from store.versions import DEFAULT_MANAGER
from tests.stack import stop_by_pid

pytestmark = pytest.mark.slow

AGENT = (
    "- {hostname: flp-d00, hollow: true, attributes: {detector: d00},\n"
    '   resources: {cpus: 8, mem: 8192, ports: "[31000-31099]"}}\n'
)


def test_the_split_runs_every_controller_of_the_single_manager_once() -> None:
    grouped = [entry for group in SPLIT.values() for entry in group]
    assert sorted(grouped) == sorted(CONTROLLERS)
    assert all(name.startswith("manager-") for name in SPLIT)


async def test_split_managers_lead_under_their_own_leases_and_walk_an_environment(
    etcd_store: EtcdStore, etcd_server: EmbeddedEtcd, tmp_path: Path
) -> None:
    agents = tmp_path / "agents.yaml"
    agents.write_text(AGENT)
    mesos, address = await start_localmesos(tmp_path, "--agents-file", str(agents))
    managers = {}
    try:
        managers = start_managers(
            tmp_path, SPLIT, etcd=etcd_server.endpoint, prefix=etcd_store.prefix, mesos=address
        )
        assert etcd_server.pid is not None
        pids = {name: m.pid for name, m in managers.items()}
        pids |= {"cluster": mesos.pid, "etcd": etcd_server.pid}
        run = await walk(etcd_store, 2, pids=pids, metrics=etcd_server.metrics_port, agents=1)
        held = await etcd_store.list_raw(f"{etcd_store.prefix}/leases/")
        leases = {key.rsplit("/", 1)[-1] for key in held}
    finally:
        for manager in managers.values():
            stop_by_pid(manager.proc)
        stop_by_pid(mesos)
        if mesos.stdout is not None:
            mesos.stdout.close()  # the pipe its address was read from
    assert leases == {f"controller-{name}" for name in SPLIT}
    assert DEFAULT_MANAGER not in leases
    assert list(run["transitions"]) == list(TRANSITIONS)
    for row in run["transitions"].values():
        each = [row["cpu_seconds"][name] for name in SPLIT]
        assert all(seconds >= 0 for seconds in each)
        assert row["manager_cpu_seconds"] == pytest.approx(sum(each))
    rss = run["rss_kb"]
    assert set(rss["each"]) == set(SPLIT)
    assert rss["running"] == sum(m["running"] for m in rss["each"].values())
    assert all(m["running"] > 10_000 for m in rss["each"].values())  # two whole interpreters
