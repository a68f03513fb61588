"""Pure pieces of the executor program: settings from the environment, Mesos status shapes."""

from __future__ import annotations

from pathlib import Path

import pytest

from executor.app import kill_grace, status_reason, to_mesos_status
from executor.launch import StatusUpdate
from executor.settings import ExecutorSettings, task_dir_problem
from mesosapi.executor import Kill
from mesosapi.models import DurationInfo, KillPolicy, TaskId
from mesosapi.o2messages import decode_status_data

MESOS = {
    "MESOS_AGENT_ENDPOINT": "127.0.0.1:5051",
    "MESOS_FRAMEWORK_ID": "fw",
    "MESOS_EXECUTOR_ID": "o2-executor",
    "MESOS_DIRECTORY": "/sandbox",
    "MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD": "10secs",
}


def test_settings_default_and_read_seconds_or_mesos_durations() -> None:
    defaults = ExecutorSettings.from_env(MESOS, cwd=Path("/cwd"))
    assert defaults.report_interval == 10.0 and defaults.sandbox_root == Path("/sandbox")
    assert (defaults.timeouts.startup, defaults.timeouts.kill_grace) == (30.0, 5.0)
    custom = ExecutorSettings.from_env(
        {**MESOS, "O2_EXECUTOR_REPORT_INTERVAL": "2.5", "O2_EXECUTOR_KILL_STEP": "500ms"},
        cwd=Path("/cwd"),
    )
    assert (custom.report_interval, custom.timeouts.kill_step) == (2.5, 0.5)
    assert 0 < custom.shutdown_budget < custom.mesos.shutdown_grace_period


@pytest.mark.parametrize(
    ("key", "value"),
    [("O2_EXECUTOR_REPORT_INTERVAL", "soon"), ("O2_EXECUTOR_KILL_GRACE", "0")],
)
def test_bad_settings_name_the_variable(key: str, value: str) -> None:
    with pytest.raises(ValueError, match=key):
        ExecutorSettings.from_env({**MESOS, key: value}, cwd=Path("/cwd"))


def test_settings_refuse_an_environment_not_set_by_an_agent() -> None:
    with pytest.raises(ValueError, match="MESOS_AGENT_ENDPOINT"):
        ExecutorSettings.from_env({}, cwd=Path("/cwd"))


@pytest.mark.parametrize("task_id", ["../etc", "a/b", "..", "", "with space"])
def test_task_ids_that_cannot_be_a_directory_are_refused(task_id: str) -> None:
    assert task_dir_problem(task_id) is not None


def test_ordinary_task_ids_make_directories() -> None:
    assert task_dir_problem("env-1.readout_0:abc") is None


def test_status_carries_process_facts_as_json_data() -> None:
    update = StatusUpdate(
        task_id="t1", state="TASK_FAILED", message="killed", pid=42, signal=9, occ_state="ERROR"
    )
    status = to_mesos_status(update, was_running=True)
    assert status.task_id == "t1" and status.message == "killed"
    assert status.reason == "REASON_COMMAND_EXECUTOR_FAILED"
    assert status.data is not None
    data = decode_status_data(status.data)
    assert (data.state, data.pid, data.signal, data.exit_code) == ("ERROR", 42, 9, None)


@pytest.mark.parametrize(
    ("state", "pid", "was_running", "reason"),
    [
        ("TASK_FAILED", None, False, "REASON_CONTAINER_LAUNCH_FAILED"),
        ("TASK_FAILED", 7, False, "REASON_CONTAINER_LAUNCH_FAILED"),
        ("TASK_KILLED", 7, False, "REASON_TASK_KILLED_DURING_LAUNCH"),
        ("TASK_KILLED", 7, True, None),
        ("TASK_RUNNING", 7, True, None),
        ("TASK_FINISHED", 7, True, None),
    ],
)
def test_reasons_say_whether_a_task_ever_ran(
    state: str, pid: int | None, was_running: bool, reason: str | None
) -> None:
    update = StatusUpdate(task_id="t", state=state, pid=pid)  # type: ignore[arg-type]
    assert status_reason(update, was_running=was_running) == reason


def test_kill_grace_comes_from_the_kill_policy_in_seconds() -> None:
    policy = KillPolicy(grace_period=DurationInfo.of_seconds(2.5))
    assert kill_grace(Kill(task_id=TaskId("t"), kill_policy=policy)) == 2.5
    assert kill_grace(Kill(task_id=TaskId("t"))) is None
