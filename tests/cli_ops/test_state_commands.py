"""`o2 start|stop|...|recover ENV` against real etcd, with the test playing the controller."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from crds.changedby import changed_by
from crds.kinds.environment import Environment, TransitionProgress
from store.api import Store
from tests.cli.conftest import O2, spawn
from tests.cli_ops.conftest import (
    env_obj,
    fetch,
    on_store,
    put,
    run_o2,
    seed,
    set_env_status,
    set_task_status,
    task_obj,
    wait_env,
)


async def configured_env(store: Store, name: str = "alpha", *, tasks: int = 2) -> None:
    await put(store, env_obj(name, desired="CONFIGURED", state="CONFIGURED"))
    for i in range(tasks):
        await put(store, task_obj(f"{name}-t{i}", env=name, state="CONFIGURED"))
    await set_env_status(store, name, state="CONFIGURED")


async def test_start_writes_running_and_exits_0_when_the_controller_gets_there(
    o2: O2, etcd_store: Store
) -> None:
    await configured_env(etcd_store)
    cli = asyncio.create_task(run_o2(o2, "start", "alpha"))
    env = await wait_env(etcd_store, "alpha", lambda e: e.spec.state == "RUNNING")
    assert env.spec.state == "RUNNING"
    for i in range(2):
        await set_task_status(etcd_store, f"alpha-t{i}", state="RUNNING")
    await set_env_status(etcd_store, "alpha", state="RUNNING", run_number=7)
    result = await cli
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "environment/alpha RUNNING (run 7)\n"
    assert "tasks RUNNING 2/2" in result.stderr


async def test_progress_lines_follow_the_transition_step_by_step(o2: O2, etcd_store: Store) -> None:
    await configured_env(etcd_store)
    with spawn(o2.argv("start", "alpha"), env=o2.subprocess_env()) as cli:
        await asyncio.to_thread(cli.err.wait_for, "alpha: CONFIGURED -> RUNNING", within=30)
        progress = TransitionProgress(event="START_ACTIVITY", step="tasks_START_ACTIVITY")
        await set_env_status(etcd_store, "alpha", transition=progress, run_number=8)
        await asyncio.to_thread(cli.err.wait_for, "step tasks_START_ACTIVITY", within=10)
        await set_task_status(etcd_store, "alpha-t0", state="RUNNING")
        await set_task_status(etcd_store, "alpha-t1", state="RUNNING")
        await set_env_status(etcd_store, "alpha", state="RUNNING", transition=None)
        assert await asyncio.to_thread(cli.proc.wait, 20) == 0
        await asyncio.to_thread(cli.out.wait_for, "environment/alpha RUNNING (run 8)", within=5)
    seen = cli.err.drain()
    assert any("run 8; tasks RUNNING 0/2 [CONFIGURED=2]" in line for line in seen), seen
    assert seen[-1] == "alpha: RUNNING -> RUNNING run 8; tasks RUNNING 2/2 [RUNNING=2]"


def test_stop_of_a_running_env_is_refused_without_a_terminal_or_yes(o2_sync: O2) -> None:
    seed(o2_sync, env_obj("alpha", desired="RUNNING", state="RUNNING", runNumber=3))
    result = o2_sync("stop", "alpha")
    assert result.exit_code == 1
    assert "ends run 3" in result.stderr
    assert "--yes" in result.stderr
    assert fetch(o2_sync, Environment, "alpha").spec.state == "RUNNING"


def test_no_wait_returns_right_after_writing(o2_sync: O2) -> None:
    seed(o2_sync, env_obj("alpha", desired="RUNNING", state="RUNNING"))
    result = o2_sync("exit", "alpha", "--no-wait", "--yes")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "environment/alpha requested exit\n"
    assert fetch(o2_sync, Environment, "alpha").spec.state == "DONE"


async def test_error_exits_1_with_the_reason_and_the_failing_tasks(
    o2: O2, etcd_store: Store
) -> None:
    await configured_env(etcd_store)
    cli = asyncio.create_task(run_o2(o2, "start", "alpha"))
    await wait_env(etcd_store, "alpha", lambda e: e.spec.state == "RUNNING")
    await set_task_status(
        etcd_store, "alpha-t1", state="ERROR", phase="Failed", message="killed by signal 9"
    )
    await set_env_status(
        etcd_store, "alpha", state="ERROR", message="critical task alpha-t1 failed"
    )
    result = await cli
    assert result.exit_code == 1
    assert "critical task alpha-t1 failed" in result.stderr
    assert "Failing tasks:" in result.stderr
    assert "killed by signal 9" in result.stderr
    assert "alpha-t0" not in result.stderr.split("Failing tasks:")[1]


async def test_failed_start_exits_1_at_go_error_with_the_reason(o2: O2, etcd_store: Store) -> None:
    await configured_env(etcd_store)
    cli = asyncio.create_task(run_o2(o2, "start", "alpha", "--timeout", "5m", within=60))
    await wait_env(etcd_store, "alpha", lambda e: e.spec.state == "RUNNING")
    why = "START_ACTIVITY failed at before_START_ACTIVITY+10: hook sor failed: exit code 1"
    progress = TransitionProgress(event="GO_ERROR", step="before_GO_ERROR", message=why)
    await set_env_status(etcd_store, "alpha", transition=progress, message=why)
    result = await cli
    assert result.exit_code == 1
    assert "hook sor failed: exit code 1" in result.stderr


def test_timeout_exits_1_and_says_what_was_seen_last(o2_sync: O2) -> None:
    on_store(o2_sync, configured_env)
    started = time.monotonic()
    result = o2_sync("start", "alpha", "--timeout", "1s")
    assert result.exit_code == 1
    assert time.monotonic() - started < 15
    assert "timed out after 1s" in result.stderr
    assert "alpha: CONFIGURED -> RUNNING" in result.stderr
    assert "has not observed the request" in result.stderr


async def test_recover_bumps_the_request_and_waits_for_the_desired_state(
    o2: O2, etcd_store: Store
) -> None:
    await put(etcd_store, env_obj("alpha", desired="CONFIGURED", state="ERROR", message="boom"))
    cli = asyncio.create_task(run_o2(o2, "recover", "alpha", "-o", "json"))
    env = await wait_env(etcd_store, "alpha", lambda e: e.spec.recover_request == 1)
    assert env.spec.state == "CONFIGURED"
    await set_env_status(etcd_store, "alpha", state="DEPLOYED", recovered_request=1, message="")
    await set_env_status(etcd_store, "alpha", state="CONFIGURED")
    result = await cli
    assert result.exit_code == 0, result.stderr
    final = json.loads(result.stdout)
    assert final["spec"]["recoverRequest"] == 1
    assert final["status"]["state"] == "CONFIGURED"


def test_recover_of_an_env_not_in_error_changes_nothing(o2_sync: O2) -> None:
    seed(o2_sync, env_obj("alpha", desired="RUNNING", state="RUNNING"))
    result = o2_sync("recover", "alpha")
    assert result.exit_code == 1
    assert "not ERROR" in result.stderr
    assert fetch(o2_sync, Environment, "alpha").spec.recover_request == 0


def test_missing_environment_is_an_error(o2_sync: O2) -> None:
    result = o2_sync("deploy", "nope")
    assert result.exit_code == 1
    assert "environment/nope not found" in result.stderr


def test_bad_output_format_is_a_usage_error_and_writes_nothing(o2_sync: O2) -> None:
    seed(o2_sync, env_obj("alpha", desired="CONFIGURED", state="CONFIGURED"))
    result = o2_sync("start", "alpha", "-o", "bogus")
    assert result.exit_code == 1
    assert "-o" in result.stderr and "Traceback" not in result.stderr
    assert fetch(o2_sync, Environment, "alpha").spec.state == "CONFIGURED"


def test_the_state_write_names_the_login_user_for_the_run_log(
    o2_sync: O2, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOGNAME", "shifter-sam")
    seed(o2_sync, env_obj("alpha", desired="CONFIGURED", state="CONFIGURED"))
    assert o2_sync("start", "alpha", "--no-wait").exit_code == 0
    env = fetch(o2_sync, Environment, "alpha")
    assert changed_by(env) == "shifter-sam"
