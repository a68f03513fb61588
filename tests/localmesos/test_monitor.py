"""`/monitor/statistics` has Mesos' JSON shape: real agents read their executors' process trees
from /proc, hollow agents list their simulated executors with zero usage."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import aiohttp

from localmesos import LocalCluster
from localmesos.model import Executor
from localmesos.monitor import entry, parse_stat, process_tree, read_procs
from localmesos.resources import Resources
from tests.localmesos.helpers import RawScheduler, scalar, task_info

ENTRY_FIELDS: dict[str, type] = {
    "executor_id": str,
    "executor_name": str,
    "framework_id": str,
    "source": str,
}
STATISTICS_FIELDS: dict[str, type] = {
    "timestamp": float,
    "cpus_user_time_secs": float,
    "cpus_system_time_secs": float,
    "cpus_limit": float,
    "mem_rss_bytes": int,
    "mem_limit_bytes": int,
    "processes": int,
    "threads": int,
}
"""Mesos' ResourceStatistics fields the agent fills (include/mesos/v1/mesos.proto): seconds
and cpus are doubles, bytes and counts integers."""


def assert_mesos_shape(item: Any) -> None:
    """One `/monitor/statistics` element as Mesos' agent writes it (slave/http.cpp)."""
    assert isinstance(item, dict)
    for name, kind in ENTRY_FIELDS.items():
        assert isinstance(item[name], kind), (name, item)
    stats = item["statistics"]
    for name, kind in STATISTICS_FIELDS.items():
        assert type(stats[name]) is kind, (name, stats[name])  # bool is no int here
        assert stats[name] >= 0, (name, stats[name])


def executor(pid: int | None, *, cpus: float = 0.5, mem: float = 64) -> Executor:
    return Executor(
        executor_id="o2-executor",
        framework_id="fw-1",
        agent_id="agent-1",
        info={"executor_id": {"value": "o2-executor"}, "name": "o2 executor"},
        resources=Resources.from_json([scalar("cpus", cpus), scalar("mem", mem)]),
        container_id="c-1",
        directory="/tmp",
        pid=pid,
    )


def test_stat_lines_parse_with_spaces_and_parentheses_in_the_command_name() -> None:
    line = "42 (a (b) c) S 1 40 40 0 -1 0 0 0 0 0 300 100 20 10 20 0 3 0 0 0 25 0 0"
    proc = parse_stat(line)
    assert (proc.pid, proc.ppid, proc.pgid, proc.threads) == (42, 1, 40, 3)
    tick = os.sysconf("SC_CLK_TCK")
    assert proc.user_secs == (300 + 20) / tick and proc.system_secs == (100 + 10) / tick
    assert proc.rss_bytes == 25 * os.sysconf("SC_PAGE_SIZE")


def test_a_real_executor_entry_counts_its_tree_and_each_process_group() -> None:
    script = "import sys; print('up', flush=True); sys.stdin.read()"
    child = subprocess.Popen([sys.executable, "-c", script],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             start_new_session=True)  # fmt: skip
    try:
        assert child.stdout is not None
        # Read its tree once it runs: read while it was still starting, its RSS once showed as 0.
        assert child.stdout.readline() == b"up\n"
        procs = read_procs()
        tree = process_tree(os.getpid(), procs)
        assert {os.getpid(), child.pid} <= {p.pid for p in tree}
        item = entry(executor(os.getpid()), tree=tree, timestamp=1.5)
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.wait(timeout=10)
        if child.stdout is not None:
            child.stdout.close()
    assert_mesos_shape(item)
    stats = item["statistics"]
    assert stats["mem_rss_bytes"] > 0 and stats["cpus_user_time_secs"] > 0
    assert stats["cpus_limit"] == 0.5 and stats["mem_limit_bytes"] == 64 * 1024 * 1024
    groups = {g["pgid"]: g for g in item["process_groups"]}
    assert groups[child.pid]["mem_rss_bytes"] > 0  # the child's own session
    assert sum(g["mem_rss_bytes"] for g in groups.values()) == stats["mem_rss_bytes"]


async def test_hollow_agents_report_their_executors_with_zero_usage_on_the_master_port(
    cluster: LocalCluster, scheduler: RawScheduler
) -> None:
    await scheduler.subscribe()
    offer = (await scheduler.offers())[0]
    await scheduler.accept(offer, [task_info("t1", offer, cpus=0.25, mem=16)])
    await scheduler.next_update("t1", state="TASK_RUNNING")
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{cluster.url}/monitor/statistics") as resp,
    ):
        assert resp.status == 200
        items = await resp.json()
    assert len(items) == 1
    assert_mesos_shape(items[0])
    stats = items[0]["statistics"]
    assert items[0]["executor_id"] == "exec"
    assert items[0]["agent_id"] == offer["agent_id"]["value"]
    assert stats["mem_rss_bytes"] == 0 and stats["cpus_user_time_secs"] == 0
    assert stats["cpus_limit"] == 0.26 and stats["mem_limit_bytes"] == 48 * 1024 * 1024
    assert "process_groups" not in items[0]
