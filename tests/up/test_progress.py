"""The pure parts of `o2 up`: the agents it generates, its progress lines, and when it calls
an environment settled or asks for recovery (in memory: no processes)."""

from __future__ import annotations

import asyncio
import json
import os
import socket
from pathlib import Path

import pytest
import yaml

from cli import up_keep
from cli.supervisor import loud, short
from cli.up_children import agents_yaml, require_free
from cli.up_pidfile import PidFile, Proc, stop_leftovers
from cli.up_progress import Endpoints, Tracker, banner, progress_line, summary
from crds.kinds.environment import Environment, EnvironmentStatus, TransitionProgress
from tests.environments.helpers import samples


def env_with(state: str, **status: object) -> Environment:
    env, _, _ = samples()
    return env.model_copy(update={"status": EnvironmentStatus(state=state, **status)})


def test_generated_agents_satisfy_the_sample_detector_constraints_on_separate_ports() -> None:
    agents = yaml.safe_load(agents_yaml(generic=2, task_ports=24000))
    assert [a["hostname"] for a in agents] == ["flp-tpc", "flp-its", "agent-0", "agent-1"]
    assert agents[0]["attributes"] == {"detector": "TPC"}
    assert agents[1]["attributes"] == {"detector": "ITS"}
    assert "attributes" not in agents[2]
    ports = [a["resources"]["ports"] for a in agents]
    assert ports == ["[24000-24099]", "[24100-24199]", "[24200-24299]", "[24300-24399]"]


def test_progress_line_shows_transition_run_and_task_counts() -> None:
    transition = TransitionProgress(event="START_ACTIVITY", step="tasks_START_ACTIVITY")
    env = env_with(
        "CONFIGURED",
        transition=transition,
        run_number=3,
        task_counts={"RUNNING": 1, "CONFIGURED": 2},
    )
    line = progress_line(env)
    assert line == (
        "environment physics-1: CONFIGURED (START_ACTIVITY, tasks_START_ACTIVITY), run 3; "
        "tasks: CONFIGURED 2, RUNNING 1"
    )


def test_summary_of_an_error_says_what_to_do() -> None:
    text = summary([env_with("ERROR", message="critical task x is ERROR")])
    assert "critical task x is ERROR" in text and "o2 recover physics-1" in text
    assert summary([env_with("RUNNING", run_number=7)]) == "physics-1 RUNNING run 7"


def test_stale_running_status_is_not_settled_until_the_loss_is_reported() -> None:
    track = Tracker(names=["physics-1"], stale={"physics-1"}, auto_recover=False)
    track.observe(env_with("RUNNING", run_number=3), fresh=False)
    assert not track.all_settled()
    # A re-applied sample (or any write but the controller's verdict) is no confirmation.
    track.observe(env_with("RUNNING", run_number=3), fresh=True)
    assert not track.all_settled()
    track.observe(env_with("ERROR", task_counts={"Lost": 3}), fresh=True)
    assert track.all_settled()


def test_stale_environment_in_error_is_recovered_once_then_settles_when_recovered() -> None:
    track = Tracker(names=["physics-1"], stale={"physics-1"}, auto_recover=True)
    lost = env_with("ERROR", task_counts={"Lost": 3})
    track.observe(lost, fresh=True)
    assert track.needs_recovery(lost) and not track.all_settled()
    track.recovered.add("physics-1")
    track.recovering.add("physics-1")
    asked = lost.model_copy(update={"spec": lost.spec.model_copy(update={"recover_request": 1})})
    track.observe(asked, fresh=True)  # the recover request itself: still ERROR
    assert not track.needs_recovery(asked) and not track.all_settled()
    stale_run = env_with("RUNNING", run_number=3).model_copy(update={"spec": asked.spec})
    track.observe(stale_run, fresh=True)  # not yet acted upon (recoveredRequest 0 < 1)
    assert not track.all_settled()
    recovered = env_with("RUNNING", run_number=4, recovered_request=1)
    recovered = recovered.model_copy(update={"spec": asked.spec})
    track.observe(recovered, fresh=True)
    assert track.all_settled()
    track.observe(asked, fresh=True)  # failed again: reported, not recovered twice
    assert not track.needs_recovery(asked) and track.all_settled()


def test_a_recovery_that_fails_settles_in_error_once_it_has_ended() -> None:
    track = Tracker(names=["physics-1"], stale={"physics-1"}, auto_recover=True)
    lost = env_with("ERROR", task_counts={"Lost": 3})
    track.observe(lost, fresh=True)
    track.recovered.add("physics-1")
    asked = lost.model_copy(update={"spec": lost.spec.model_copy(update={"recover_request": 1})})
    recovering = env_with(
        "ERROR", recovered_request=1, transition=TransitionProgress(event="RECOVER")
    ).model_copy(update={"spec": asked.spec})
    track.observe(recovering, fresh=True)
    assert not track.all_settled()  # still under way
    failed = env_with("ERROR", recovered_request=1, message="recover timed out")
    track.observe(failed.model_copy(update={"spec": asked.spec}), fresh=True)
    assert track.all_settled()  # the current controller's verdict: ERROR


def test_without_auto_recover_an_error_settles_at_once() -> None:
    track = Tracker(names=["physics-1"], stale={"physics-1"}, auto_recover=False)
    lost = env_with("ERROR", task_counts={"Lost": 3})
    track.observe(lost, fresh=True)
    assert not track.needs_recovery(lost) and track.all_settled()


def test_an_adoption_confirmed_before_the_progress_watch_listed_it_is_announced() -> None:
    """The controller starts while the cluster boots and may confirm the kept tasks before the
    progress watch lists the environment: that listed status, newer than `since`, is proof."""
    track = Tracker(names=["physics-1"], stale={"physics-1"}, auto_recover=True, since=100)
    track.observe(env_with("RUNNING", run_number=1, reconciled_revision=120), fresh=False)
    assert track.all_settled()
    older = Tracker(names=["physics-1"], stale={"physics-1"}, auto_recover=True, since=100)
    older.observe(env_with("RUNNING", run_number=1, reconciled_revision=40), fresh=False)
    assert not older.all_settled()  # from the previous o2 up's controller: no proof


def test_only_warnings_errors_and_milestones_of_child_logs_reach_the_terminal() -> None:
    info = '{"time": "t", "level": "INFO", "logger": "x", "message": "Listed", "kind": "Task"}'
    warning = '{"time": "t", "level": "WARNING", "logger": "x", "message": "Slow", "task": "a"}'
    leader = '{"time": "t", "level": "INFO", "logger": "x", "message": "Became leader"}'
    assert not loud(info) and loud(warning) and loud(leader)
    assert short(warning) == "WARNING Slow task=a"
    assert loud("2026-01-01 12:00:00,000 ERROR localmesos.agent boom")


def test_banner_names_every_endpoint_and_the_commands_to_try() -> None:
    at = Endpoints(
        etcd="http://127.0.0.1:12379",
        prefix="/o2",
        etcd_data=Path("/data/etcd"),
        logs=Path("/data/logs"),
        mesos="127.0.0.1:15050",
        gui="http://127.0.0.1:18080/",
    )
    text = banner("physics-1 RUNNING run 1", at=at, env="physics-1")
    assert text.startswith("o2 is up: physics-1 RUNNING run 1")
    assert "export O2_ETCD=http://127.0.0.1:12379 O2_MESOS=http://127.0.0.1:15050" in text
    assert "http://127.0.0.1:15050/master/state" in text and "http://127.0.0.1:18080/" in text
    assert "--endpoints=http://127.0.0.1:12379 watch --prefix /o2/registry/" in text
    assert "o2 logs physics-1-flp-tpc-readout" in text
    assert "o2 logs" not in banner("x", at=Endpoints("e", "/o2", Path("d"), Path("l")), env="x")


def test_a_taken_port_is_refused_with_the_flag_to_change_it() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(RuntimeError, match=r"in use; pick another with --gui-port"):
            require_free(port, what="dashboard", flag="--gui-port")


def test_a_live_o2_up_on_the_same_data_dir_is_refused(tmp_path: Path) -> None:
    pids = PidFile(tmp_path / "up.pids")
    pids.record("etcd", os.getppid())  # any live process that is not us
    doc = json.loads(pids.path.read_text())
    doc["owner"] = doc["children"]["etcd"]
    pids.path.write_text(json.dumps(doc))
    with pytest.raises(RuntimeError, match=r"another o2 up .* is running"):
        asyncio.run(stop_leftovers(pids.path, report=lambda *_: None))
    assert Proc.of(os.getppid()) is not None


def test_a_pid_file_of_dead_processes_is_just_removed(tmp_path: Path) -> None:
    path = tmp_path / "up.pids"
    path.write_text(json.dumps({"owner": None, "children": {"etcd": {"pid": 1, "start": -1}}}))
    said: list[str] = []
    asyncio.run(stop_leftovers(path, report=lambda _src, line: said.append(line)))
    assert not path.exists() and said == []


def test_keep_tasks_work_dir_is_used_until_its_checkpoint_is_adopted(tmp_path: Path) -> None:
    assert up_keep.cluster_args(tmp_path, keep_tasks=False) == []  # a temporary one, as before
    args = up_keep.cluster_args(tmp_path, keep_tasks=True)
    assert args == ["--work-dir", str(tmp_path / "cluster"), "--recovery-timeout", "900"]
    (tmp_path / "cluster").mkdir()
    (tmp_path / "cluster" / "checkpoint.json").write_text("{}")  # what the cluster left
    said = up_keep.after_stop(tmp_path, keep_tasks=True)
    assert said is not None and "wait 15 minutes" in said and str(tmp_path) in said
    assert up_keep.cluster_args(tmp_path, keep_tasks=False)[:2] == args[:2]  # adopted next time
    (tmp_path / "cluster" / "checkpoint.json").unlink()  # read by the adopting cluster
    assert up_keep.after_stop(tmp_path, keep_tasks=False) is None
    assert not (tmp_path / "cluster").exists()  # a normal stop leaves no sandboxes behind


def test_a_status_the_current_controller_has_not_confirmed_is_never_announced() -> None:
    track = Tracker(names=["physics-1"], stale=set(), auto_recover=True, since=100)
    track.observe(env_with("RUNNING", run_number=1, reconciled_revision=40), fresh=False)
    assert not track.all_settled()  # what the previous controller last saw
    track.observe(env_with("RUNNING", run_number=1, reconciled_revision=40), fresh=True)
    assert not track.all_settled()  # a fresh write (a re-applied sample) still carries it
    track.observe(env_with("RUNNING", run_number=1, reconciled_revision=120), fresh=True)
    assert track.all_settled()


def test_kept_tasks_confirmed_running_settle_and_lost_ones_are_recovered() -> None:
    adopted = Tracker(names=["physics-1"], stale={"physics-1"}, auto_recover=True, since=100)
    adopted.observe(env_with("RUNNING", run_number=1, reconciled_revision=120), fresh=True)
    assert adopted.all_settled() and not adopted.stale  # the controller found them running
    gone = Tracker(names=["physics-1"], stale={"physics-1"}, auto_recover=True, since=100)
    gone.observe(env_with("RUNNING", run_number=1, reconciled_revision=40), fresh=True)
    assert not gone.all_settled()
    lost = env_with("ERROR", task_counts={"Failed": 3}, reconciled_revision=120)
    gone.observe(lost, fresh=True)
    assert gone.needs_recovery(lost) and not gone.all_settled()


def test_without_a_controller_and_cluster_of_its_own_nothing_waits_for_confirmation() -> None:
    track = Tracker(names=["physics-1"], stale=set(), auto_recover=True)
    track.observe(env_with("RUNNING", run_number=1), fresh=False)
    assert track.all_settled()
