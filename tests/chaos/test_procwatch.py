"""The soak's process-table invariants, without the stack: task processes named from their
environment, two live processes for one task name, and the leading manager's growth bound."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from hack.chaos.observer import Observer
from hack.chaos.procwatch import (
    BASELINE_WINDOW,
    FD_GROWTH,
    LEADER_WARMUP,
    STRAY_BOUND,
    Life,
    ProcWatch,
    duplicates,
    launch_id,
    task_processes,
    usage,
)
from hack.chaos.stack import Stack
from store.memory import MemoryStore
from tests.waiting import eventually_sync


@pytest.fixture
def fake_tasks() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Two processes that look like sample tasks (their argv names o2-sample-task) launched
    for one task name, as two launches of one Task would be."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", "import time; time.sleep(120)", "o2-sample-task"],
            env={**os.environ, "O2_TASK_ID": f"env-readout-0.{launch}"},
        )
        for launch in ("aaaa", "bbbb")
    ]
    for proc in procs:  # exec'd: the process table shows their argv and environment
        eventually_sync(lambda: launch_id(proc.pid), within=30)  # noqa: B023
    yield procs
    for proc in procs:
        proc.kill()
        proc.wait()


def test_two_launches_of_one_task_name_alive_at_once_are_found(
    fake_tasks: list[subprocess.Popen[bytes]],
) -> None:
    first, second = (p.pid for p in fake_tasks)
    live = task_processes(cluster_pid=-1, known={first, second})
    assert live == {first: "env-readout-0.aaaa", second: "env-readout-0.bbbb"}
    assert duplicates(live) == {
        "env-readout-0": ((first, "env-readout-0.aaaa"), (second, "env-readout-0.bbbb"))
    }


def test_other_processes_and_distinct_tasks_are_not_flagged(
    fake_tasks: list[subprocess.Popen[bytes]],
) -> None:
    assert task_processes(cluster_pid=-1, known=set()) == {}  # not ours: not a grandchild
    assert duplicates({1: "env-a-0.aaaa", 2: "env-b-0.bbbb", 3: "env-a-1.cccc"}) == {}


def test_usage_reads_rss_and_fds_of_a_live_process() -> None:
    sample = usage(os.getpid())
    assert sample is not None and sample[0] > 0 and sample[1] > 0


def test_growth_is_measured_from_the_highest_sample_of_the_baseline_window() -> None:
    life = Life("m0", pid=1, since=0.0)
    end = LEADER_WARMUP + BASELINE_WINDOW
    assert life.add(1.0, 50_000, 30) is None  # start-up growth does not count
    assert life.add(LEADER_WARMUP, 100_000, 13) is None  # the window: descriptors swing
    assert life.add(LEADER_WARMUP + 2, 90_000, 40) is None
    assert life.add(end, 100_000, 14) is None  # the baseline: (100000 KiB, 40 fds)
    assert life.add(end + 2, 129_000, 40 + FD_GROWTH) is None  # within the bound
    problem = life.add(end + 4, 131_000, 40)
    assert problem is not None and "131000 KiB" in problem and "100000 KiB" in problem
    assert life.add(end + 6, 200_000, 99) is None  # reported once per process
    assert life.json()["rssKiB"] == {"first": 50_000, "last": 200_000, "max": 200_000}


def test_descriptor_growth_alone_is_a_violation() -> None:
    life = Life("m0", pid=1, since=0.0)
    life.add(LEADER_WARMUP, 100_000, 40)
    life.add(LEADER_WARMUP + BASELINE_WINDOW, 100_000, 20)
    assert life.add(LEADER_WARMUP + BASELINE_WINDOW + 2, 100_000, 41 + FD_GROWTH) is not None


def watch(tmp_path: Path) -> ProcWatch:
    return ProcWatch(Stack(tmp_path), Observer(MemoryStore(), "/chaos"))


def test_an_overlap_of_two_live_launches_is_a_violation_at_once(tmp_path: Path) -> None:
    procs = watch(tmp_path)
    procs.check({1: "env-a-0.aaaa", 2: "env-a-0.bbbb"}, now=0.0)
    procs.check({1: "env-a-0.aaaa", 2: "env-a-0.bbbb"}, now=0.5)
    assert len(procs.observer.violations) == 1
    assert (
        "task env-a-0: two live processes 1 (env-a-0.aaaa), 2 (env-a-0.bbbb)"
        in (procs.observer.violations[0])
    )


def test_a_lost_launch_next_to_its_replacement_is_allowed_for_a_bounded_time(
    tmp_path: Path,
) -> None:
    procs = watch(tmp_path)
    procs.observer.lost.add("env-a-0.aaaa")  # its Task was marked Lost; the process ran on
    live = {1: "env-a-0.aaaa", 2: "env-a-0.bbbb"}
    procs.check(live, now=0.0)
    procs.check(live, now=STRAY_BOUND)
    assert procs.observer.violations == []
    assert procs.json()["lostOverlapMaxSeconds"] == STRAY_BOUND
    procs.check(live, now=STRAY_BOUND + 0.5)
    assert len(procs.observer.violations) == 1
    assert f"for more than {STRAY_BOUND:g} s" in procs.observer.violations[0]


def test_the_launches_on_a_partitioned_agent_count_as_lost(tmp_path: Path) -> None:
    procs = watch(tmp_path)
    procs.observer.launch_agents.update({"env-a-0.aaaa": "S0", "env-b-0.bbbb": "S1"})
    procs.observer.agent_partitioned("S0")
    assert procs.observer.lost == {"env-a-0.aaaa"}
    procs.check({1: "env-a-0.aaaa", 2: "env-a-0.cccc"}, now=0.0)
    assert procs.observer.violations == []
