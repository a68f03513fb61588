"""The soak's pilot invariants, without the stack: the jobs accounting (lost, in two folders,
done twice, run by two processes) and a node's resources against its live task processes."""

from __future__ import annotations

import json
import random
from pathlib import Path

from hack.chaos.observer import Observer
from hack.chaos.pilots import SETTLE, Pilots, stable_listing
from store.memory import MemoryStore


def pilots(tmp_path: Path) -> Pilots:
    observer = Observer(MemoryStore(), "/chaos")
    return Pilots(MemoryStore(), observer, random.Random(1), tmp_path / "jobs", ("epn-0",))


def check(p: Pilots, now: float) -> None:
    p.check_jobs(stable_listing(p.jobs), {}, now)


def test_jobs_moving_between_folders_are_no_violation(tmp_path: Path) -> None:
    p = pilots(tmp_path)
    p.add_jobs(3)
    check(p, 0.0)
    (p.jobs / "running" / "pilot-epn-0").mkdir(parents=True)
    (p.jobs / "done").mkdir()
    (p.jobs / "queue" / "job-00000.json").rename(p.jobs / "running/pilot-epn-0/job-00000.json")
    (p.jobs / "queue" / "job-00001.json").rename(p.jobs / "done/job-00001.json")
    check(p, 1.0)
    assert p.observer.violations == []


def test_a_job_in_two_folders_is_a_violation_once_it_lasts(tmp_path: Path) -> None:
    p = pilots(tmp_path)
    p.add_jobs(2)
    (p.jobs / "done").mkdir()
    (p.jobs / "done" / "job-00000.json").write_text(json.dumps({"id": "job-00000"}))
    check(p, 0.0)  # a pilot between writing done/ and removing its claim: not yet
    assert p.observer.violations == []
    check(p, SETTLE)
    assert any("two folders" in v and "job-00000" in v for v in p.observer.violations)
    assert any("3 in the folders" in v for v in p.observer.violations)


def test_a_job_done_and_then_queued_again_is_a_violation(tmp_path: Path) -> None:
    p = pilots(tmp_path)
    p.add_jobs(1)
    (p.jobs / "done").mkdir()
    (p.jobs / "queue" / "job-00000.json").rename(p.jobs / "done" / "job-00000.json")
    check(p, 0.0)
    (p.jobs / "done" / "job-00000.json").rename(p.jobs / "queue" / "job-00000.json")
    check(p, 1.0)
    check(p, 1.0 + SETTLE)
    assert len(p.observer.violations) == 1
    assert "jobs done, then back in queue/ or running/: ['job-00000']" in p.observer.violations[0]


def test_a_lost_job_and_a_job_run_twice_are_violations(tmp_path: Path) -> None:
    p = pilots(tmp_path)
    p.add_jobs(2)
    (p.jobs / "queue" / "job-00001.json").unlink()
    for now in (0.0, SETTLE):
        p.check_jobs(stable_listing(p.jobs), {"job-00000": [10, 11]}, now)
    assert any("1 in the folders" in v and "2 added" in v for v in p.observer.violations)
    assert any("job-00000 run by two live processes" in v for v in p.observer.violations)


def test_a_pilot_next_to_an_environment_task_beyond_the_node_is_a_violation(
    tmp_path: Path,
) -> None:
    p = pilots(tmp_path)
    obs = p.observer
    obs.nodes["epn-0"] = {
        "spec": {"mode": "async"},
        "status": {"agentId": "S0", "resources": {"total": {"cpus": 1}}},
    }
    obs.statuses["tasks/pilot-epn-0"] = {"spec": {"wants": {"cpus": 0.5}}}
    obs.statuses["tasks/epns-epn-0"] = {"spec": {"wants": {"cpus": 0.6}}}
    obs.launch_agents.update({"pilot-epn-0.a": "S0", "epns-epn-0.b": "S0", "other-0.c": "S9"})
    p.check_resources({1: "pilot-epn-0.a", 3: "other-0.c"}, 0.0)
    assert obs.violations == []
    obs.lost.add("pilot-epn-0.a")  # a lost pilot still running: the stray bound covers it
    p.check_resources({1: "pilot-epn-0.a", 2: "epns-epn-0.b"}, 0.5)
    assert obs.violations == []
    obs.lost.clear()
    del obs.statuses["tasks/pilot-epn-0"]  # its Task gone, its process not yet
    p.check_resources({1: "pilot-epn-0.a", 2: "epns-epn-0.b"}, 1.0)
    assert len(obs.violations) == 1 and "want 1.1 cpus of 1" in obs.violations[0]


def test_an_async_node_needs_its_pilot_unless_reclaimed_or_an_environment_task_runs_there(
    tmp_path: Path,
) -> None:
    p = pilots(tmp_path)
    obs = p.observer
    obs.nodes["epn-0"] = {"spec": {"mode": "async"}, "status": {}}
    assert not p.pilot_up("epn-0")
    obs.statuses["tasks/epns-epn-0"] = {"hostname": "epn-0", "phase": "Running"}
    assert p.pilot_up("epn-0")  # switched to async under a running task: the pilot waits
    obs.statuses["tasks/epns-epn-0"] = {"hostname": "epn-0", "phase": "Finished"}
    assert not p.pilot_up("epn-0")
    obs.statuses["tasks/pilot-epn-0"] = {"hostname": "epn-0", "phase": "Staging"}
    assert not p.pilot_up("epn-0")
    obs.statuses["tasks/pilot-epn-0"]["phase"] = "Running"
    assert p.pilot_up("epn-0")
    obs.statuses.pop("tasks/pilot-epn-0")
    obs.nodes["epn-0"]["status"]["reclaim"] = {"environment": "epns", "phase": "Reclaimed"}
    assert p.pilot_up("epn-0")
