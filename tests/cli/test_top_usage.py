"""What `o2 top` computes from two statistics samples (cli.usage), and how it prints it."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from cli.commands.top import NoStatisticsError, node_rows, one_sample, task_rows
from cli.usage import (
    MB,
    Agent,
    ExecutorUsage,
    Figures,
    Json,
    Sample,
    cpu_percent,
    node_usage,
    parse_entry,
    sample_of,
    sort_tasks,
    task_usage,
)
from tests.cli_ops.conftest import node_obj, task_obj

AGENT = "agent-S0"


def entry(timestamp: float, *, executor: float, task: float, rss: int = 10 * MB) -> Json:
    """An o2 executor's element: the executor's own group (pgid 100) and one task's (pgid 7)."""
    groups = [
        {"pgid": 100, "cpus_user_time_secs": executor, "cpus_system_time_secs": 0.0,
         "mem_rss_bytes": 30 * MB},
        {"pgid": 7, "cpus_user_time_secs": task * 0.75, "cpus_system_time_secs": task * 0.25,
         "mem_rss_bytes": rss},
    ]  # fmt: skip
    stats = {
        "timestamp": timestamp,
        "cpus_user_time_secs": executor + task * 0.75,
        "cpus_system_time_secs": task * 0.25,
        "mem_rss_bytes": 30 * MB + rss,
        "cpus_limit": 0.11,
        "mem_limit_bytes": 96 * MB,
    }
    return {"executor_id": "o2-executor", "framework_id": "fw", "executor_name": "o2 executor",
            "source": "", "statistics": stats, "process_groups": groups}  # fmt: skip


def sample(timestamp: float, *, executor: float, task: float) -> Sample:
    item = entry(timestamp, executor=executor, task=task)
    return sample_of([parse_entry(item, agent_id=AGENT)])


def test_cpu_percent_is_cpu_seconds_over_wall_seconds_between_two_samples() -> None:
    before = Figures(timestamp=100.0, cpu_secs=2.0, rss_bytes=0)
    assert cpu_percent(before, Figures(timestamp=102.0, cpu_secs=3.0, rss_bytes=0)) == 50.0
    assert cpu_percent(before, Figures(timestamp=100.5, cpu_secs=3.0, rss_bytes=0)) == 200.0
    assert cpu_percent(before, Figures(timestamp=101.0, cpu_secs=1.0, rss_bytes=0)) == 0.0
    assert cpu_percent(before, Figures(timestamp=100.0, cpu_secs=3.0, rss_bytes=0)) is None
    assert cpu_percent(None, before) is None


def test_a_tasks_figures_are_its_process_group_in_its_executors_entry() -> None:
    task = task_obj("readout", env="physics-1", agentId=AGENT, executorId="o2-executor",
                    pid=7, hostname="flp-1")  # fmt: skip
    before, after = sample(10.0, executor=1.0, task=4.0), sample(12.0, executor=1.2, task=5.0)
    usage = task_usage(task, before, after)
    assert usage.cpu_percent == 50.0 and usage.rss_bytes == 10 * MB
    assert (usage.environment, usage.node, usage.mem_limit_bytes) == ("physics-1", "flp-1", 64 * MB)
    assert task_rows([usage]) == [
        ["readout", "physics-1", "readout", "flp-1", "50.0%", "10Mi", "0.1", "64Mi"]
    ]
    gone = task.model_copy(update={"status": task.status.model_copy(update={"pid": 8})})
    unknown = task_usage(gone, before, after)
    assert unknown.cpu_percent is None and unknown.rss_bytes is None
    assert task_rows([unknown])[0][4:6] == ["-", "-"]


def test_without_a_process_group_breakdown_tasks_have_no_figures() -> None:
    plain = entry(1.0, executor=1.0, task=1.0)
    del plain["process_groups"]
    parsed = parse_entry(plain, agent_id=AGENT)
    assert isinstance(parsed, ExecutorUsage) and parsed.groups is None
    task = task_obj("readout", env=None, agentId=AGENT, executorId="o2-executor", pid=7)
    usage = task_usage(task, sample_of([parsed]), sample_of([parsed]))
    assert usage.cpu_percent is None and usage.rss_bytes is None


def test_a_node_sums_its_executors_against_its_nodes_allocatable() -> None:
    agent = Agent(agent_id=AGENT, hostname="flp-1", cpus=8.0, mem_bytes=16384 * MB)
    before, after = sample(10.0, executor=1.0, task=4.0), sample(12.0, executor=1.2, task=5.0)
    node = node_obj("flp-1", agentId=AGENT, resources={"total": {"cpus": 4, "memory": 400}})
    usage = node_usage(agent, [node], before, after)
    assert usage.cpu_cores is not None and abs(usage.cpu_cores - 0.6) < 1e-9
    assert usage.rss_bytes == 40 * MB and usage.mem_percent == 10.0
    assert node_rows([usage]) == [
        ["flp-1", "0.60", "15.0%", "40Mi", "10.0%", "0.11", "96Mi", "4", "400Mi"]
    ]
    without_node = node_usage(agent, [], before, after)
    assert (without_node.allocatable_cpus, without_node.allocatable_mem_bytes) == (8.0, 16384 * MB)
    idle = node_usage(agent, [], {}, {})
    assert (idle.cpu_cores, idle.rss_bytes, idle.cpu_percent) == (0.0, 0, 0.0)


def test_sorting_puts_the_busiest_first_and_unknown_figures_last() -> None:
    task = task_obj("t", env=None, agentId=AGENT, executorId="o2-executor", pid=7)
    before, after = sample(10.0, executor=1.0, task=4.0), sample(12.0, executor=1.2, task=5.0)
    base = task_usage(task, before, after)
    rows = [
        replace(base, name="a", cpu_percent=1.0, rss_bytes=9),
        replace(base, name="b", cpu_percent=None, rss_bytes=None),
        replace(base, name="c", cpu_percent=5.0, rss_bytes=1),
    ]
    assert [r.name for r in sort_tasks(rows, by="cpu")] == ["c", "a", "b"]
    assert [r.name for r in sort_tasks(rows, by="mem")] == ["a", "c", "b"]
    assert [r.name for r in sort_tasks(rows, by="name")] == ["a", "b", "c"]


def test_malformed_statistics_from_an_agent_are_a_clear_error_not_a_traceback() -> None:
    class Answers:
        async def statistics(self, url: str) -> list[Json]:
            return [{"executor_id": "e", "statistics": {"timestamp": "soon"}}]

    with pytest.raises(NoStatisticsError, match="http://a:5051: malformed statistics"):
        asyncio.run(one_sample(Answers(), {"http://a:5051": AGENT}))  # type: ignore[arg-type]
