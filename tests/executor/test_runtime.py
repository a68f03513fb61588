"""TaskRunner with real task processes: OCC lifecycle, batches, idempotency, kills, basic mode."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from executor.runtime import TaskRunner, Timeouts
from mesosapi.o2messages import ControlItem, ControlRequest, DeviceEventMessage
from tests.executor.conftest import (
    PROGRAMS,
    REPO,
    StatusLog,
    launch_spec,
    python_command,
    sample_task,
)


def batch(request_id: str, *items: tuple[str, str, str, dict[str, str]]) -> ControlRequest:
    return ControlRequest(
        request_id=request_id,
        items=tuple(
            ControlItem(task_id=t, transition_id=x, event=e, arguments=a) for t, x, e, a in items
        ),
        timeout_seconds=10,
    )


async def launch_ready(
    runner: TaskRunner, statuses: StatusLog, tmp_path: Path, task_id: str, *args: str
) -> None:
    await runner.launch(launch_spec(tmp_path, task_id, sample_task("--detector", "TPC", *args)))
    running = await statuses.wait_for(task_id, "TASK_RUNNING")
    assert running.occ_state == "STANDBY"


def log_of(tmp_path: Path, task_id: str) -> str:
    return (tmp_path / task_id / "stdout").read_text()


async def test_sample_task_walks_the_whole_cycle_and_logs_each_transition(
    runner: TaskRunner, statuses: StatusLog, tmp_path: Path
):
    await launch_ready(runner, statuses, tmp_path, "t1")
    steps = [
        ("CONFIGURE", {"readout.rate": "5", "card": "cru-1"}, "CONFIGURED"),
        ("START", {"run_number": "1234"}, "RUNNING"),
        ("STOP", {}, "CONFIGURED"),
        ("RESET", {}, "STANDBY"),
        ("EXIT", {}, "DONE"),
    ]
    for n, (event, arguments, expected) in enumerate(steps):
        results = await runner.control(batch(f"r{n}", ("t1", f"x{n}", event, arguments)))
        assert [(r.ok, r.state) for r in results.results] == [(True, expected)]
    final = await statuses.wait_for("t1", "TASK_FINISHED")
    assert (final.exit_code, final.occ_state) == (0, "DONE")
    log = log_of(tmp_path, "t1")
    assert 'transition CONFIGURE -> CONFIGURED detector=TPC properties={"card": "cru-1", ' in log
    assert "transition START -> RUNNING detector=TPC run_number=1234" in log
    assert "transition STOP -> CONFIGURED events=" in log
    assert "transition RESET -> STANDBY" in log
    assert "transition EXIT -> DONE" in log
    assert statuses.states("t1") == ["TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"]
    assert runner.report().tasks[0].last_transition_id == "x4"


async def test_repeated_transition_id_is_answered_without_rerunning(
    runner: TaskRunner, statuses: StatusLog, tmp_path: Path
):
    await launch_ready(runner, statuses, tmp_path, "t1")
    item = ("t1", "cfg-1", "CONFIGURE", {"a": "1"})
    first = await runner.control(batch("r1", item))
    resent = await runner.control(batch("r1", item))  # the controller's retry of the same batch
    twice_in_one = await runner.control(batch("r2", item, item))
    assert first.results == resent.results
    assert twice_in_one.results == (first.results[0], first.results[0])
    assert log_of(tmp_path, "t1").count("transition CONFIGURE") == 1


async def test_illegal_transition_is_rejected_and_state_kept(
    runner: TaskRunner, statuses: StatusLog, tmp_path: Path
):
    await launch_ready(runner, statuses, tmp_path, "t1")
    (result,) = (await runner.control(batch("r1", ("t1", "x1", "START", {})))).results
    assert (result.ok, result.state) == (False, "STANDBY")
    assert "not allowed in STANDBY" in result.message
    assert runner.report().tasks[0].state == "STANDBY"


async def test_one_batch_drives_several_tasks_each_in_order(
    runner: TaskRunner, statuses: StatusLog, tmp_path: Path
):
    await launch_ready(runner, statuses, tmp_path, "a")
    await launch_ready(runner, statuses, tmp_path, "b")
    request = batch(
        "r1",
        ("a", "a1", "CONFIGURE", {}),
        ("b", "b1", "CONFIGURE", {}),
        ("a", "a2", "START", {"run_number": "7"}),
        ("b", "b2", "START", {"run_number": "7"}),
        ("zz", "z1", "START", {}),
    )
    results = (await runner.control(request)).results
    assert [(r.task_id, r.ok, r.state) for r in results[:4]] == [
        ("a", True, "CONFIGURED"),
        ("b", True, "CONFIGURED"),
        ("a", True, "RUNNING"),
        ("b", True, "RUNNING"),
    ]
    assert not results[4].ok and "unknown task" in results[4].message


async def test_kill_9_of_a_task_is_reported_failed_with_the_signal(
    runner: TaskRunner, statuses: StatusLog, tmp_path: Path
):
    await launch_ready(runner, statuses, tmp_path, "t1")
    pid = runner.report().tasks[0].pid
    assert pid
    os.kill(pid, signal.SIGKILL)
    failed = await statuses.wait_for("t1", "TASK_FAILED")
    assert (failed.signal, failed.exit_code, failed.occ_state) == (signal.SIGKILL, None, "ERROR")
    assert "SIGKILL" in failed.message
    row = runner.report().tasks[0]
    assert (row.phase, row.signal) == ("exited", signal.SIGKILL)


async def test_kill_of_a_running_task_walks_stop_and_exit(
    runner: TaskRunner, statuses: StatusLog, tmp_path: Path
):
    await launch_ready(runner, statuses, tmp_path, "t1")
    await runner.control(
        batch("r1", ("t1", "x1", "CONFIGURE", {}), ("t1", "x2", "START", {"run_number": "1"}))
    )
    await runner.kill("t1")
    killed = await statuses.wait_for("t1", "TASK_KILLED")
    assert (killed.exit_code, killed.occ_state) == (0, "DONE")
    log = log_of(tmp_path, "t1")
    assert log.index("transition STOP") < log.index("transition EXIT")


async def test_kill_ladder_ends_in_sigkill_when_task_ignores_exit_and_sigterm(
    statuses: StatusLog, tmp_path: Path
):
    runner = TaskRunner(on_status=statuses, timeouts=Timeouts(kill_step=0.5, kill_grace=0.3))
    stubborn = python_command(str(PROGRAMS / "stubborn_task.py"))
    try:
        await runner.launch(launch_spec(tmp_path, "t1", stubborn))
        await statuses.wait_for("t1", "TASK_RUNNING")
        await runner.kill("t1")
        killed = await statuses.wait_for("t1", "TASK_KILLED")
    finally:
        await runner.close()
    assert killed.signal == signal.SIGKILL
    assert "exit requested; hanging" in log_of(tmp_path, "t1")


async def test_task_dying_during_a_transition_gets_a_retryable_answer(
    runner: TaskRunner, statuses: StatusLog, tmp_path: Path
):
    stubborn = python_command(str(PROGRAMS / "stubborn_task.py"))
    await runner.launch(launch_spec(tmp_path, "t1", stubborn))
    running = await statuses.wait_for("t1", "TASK_RUNNING")
    assert running.pid
    answer = asyncio.ensure_future(
        runner.control(batch("r1", ("t1", "x1", "CONFIGURE", {"hang": "true"})))
    )
    await asyncio.sleep(0)  # the request is on its way (or not: both must end the same)
    os.kill(running.pid, signal.SIGKILL)
    (result,) = (await asyncio.wait_for(answer, 20)).results
    assert (result.ok, result.retryable) == (False, True)
    assert (await statuses.wait_for("t1", "TASK_FAILED")).signal == signal.SIGKILL


async def test_task_that_never_serves_occ_fails_after_startup_timeout(
    statuses: StatusLog, tmp_path: Path
):
    runner = TaskRunner(on_status=statuses, timeouts=Timeouts(startup=0.5, kill_grace=0.5))
    try:
        await runner.launch(
            launch_spec(tmp_path, "t1", python_command("-c", "import time; time.sleep(60)"))
        )
        failed = await statuses.wait_for("t1", "TASK_FAILED")
    finally:
        await runner.close()
    assert "OCC not ready within 0.5s" in failed.message
    assert "TASK_RUNNING" not in statuses.states("t1")


async def test_task_crashing_at_startup_fails_with_its_exit_code(
    runner: TaskRunner, statuses: StatusLog, tmp_path: Path
):
    await runner.launch(launch_spec(tmp_path, "t1", python_command("-c", "raise SystemExit(4)")))
    failed = await statuses.wait_for("t1", "TASK_FAILED")
    assert failed.exit_code == 4
    assert "exited during startup" in failed.message


async def test_missing_program_fails_the_launch_with_a_clear_message(
    runner: TaskRunner, statuses: StatusLog, tmp_path: Path
):
    from executor.supervisor import CommandSpec

    await runner.launch(launch_spec(tmp_path, "t1", CommandSpec(value="/no/such/o2-task")))
    failed = await statuses.wait_for("t1", "TASK_FAILED")
    assert "/no/such/o2-task" in failed.message


async def test_end_of_stream_is_forwarded_to_the_controller(statuses: StatusLog, tmp_path: Path):
    events: list[DeviceEventMessage] = []
    arrived = asyncio.Event()

    def on_event(event: DeviceEventMessage) -> None:
        events.append(event)
        arrived.set()

    runner = TaskRunner(on_status=statuses, on_event=on_event)
    try:
        await launch_ready(runner, statuses, tmp_path, "t1", "--eos-after", "0", "--tick", "0.05")
        await runner.control(
            batch("r1", ("t1", "x1", "CONFIGURE", {}), ("t1", "x2", "START", {"run_number": "1"}))
        )
        await asyncio.wait_for(arrived.wait(), 20)
    finally:
        await runner.close()
    assert (events[0].task_id, events[0].event) == ("t1", "END_OF_STREAM")


async def test_internal_error_is_forwarded_and_recover_returns_to_standby(
    statuses: StatusLog, tmp_path: Path
):
    events: list[DeviceEventMessage] = []
    arrived = asyncio.Event()

    def on_event(event: DeviceEventMessage) -> None:
        events.append(event)
        arrived.set()

    runner = TaskRunner(on_status=statuses, on_event=on_event)
    try:
        await launch_ready(runner, statuses, tmp_path, "t1", "--fail-after", "0", "--tick", "0.05")
        await runner.control(
            batch("r1", ("t1", "x1", "CONFIGURE", {}), ("t1", "x2", "START", {"run_number": "1"}))
        )
        await asyncio.wait_for(arrived.wait(), 20)
        assert (events[0].event, events[0].state) == ("INTERNAL_ERROR", "ERROR")
        assert runner.report().tasks[0].state == "ERROR"
        (result,) = (await runner.control(batch("r2", ("t1", "x3", "RECOVER", {})))).results
        assert (result.ok, result.state) == (True, "STANDBY")
    finally:
        await runner.close()


async def test_process_task_exit_0_is_finished_done(
    runner: TaskRunner, statuses: StatusLog, tmp_path: Path
):
    command = sample_task("--control", "basic", "--duration", "0")
    await runner.launch(launch_spec(tmp_path, "t1", command, control="process"))
    assert (await statuses.wait_for("t1", "TASK_RUNNING")).occ_state == "RUNNING"
    finished = await statuses.wait_for("t1", "TASK_FINISHED")
    assert finished.occ_state == "DONE"


async def test_process_task_nonzero_exit_is_failed_error(
    runner: TaskRunner, statuses: StatusLog, tmp_path: Path
):
    command = sample_task("--control", "basic", "--duration", "0", "--exit-code", "3")
    await runner.launch(launch_spec(tmp_path, "t1", command, control="process"))
    failed = await statuses.wait_for("t1", "TASK_FAILED")
    assert (failed.exit_code, failed.occ_state) == (3, "ERROR")


async def test_process_task_exit_event_terminates_it(
    runner: TaskRunner, statuses: StatusLog, tmp_path: Path
):
    command = sample_task("--control", "basic")
    await runner.launch(launch_spec(tmp_path, "t1", command, control="process"))
    await statuses.wait_for("t1", "TASK_RUNNING")
    refused = await runner.control(batch("r1", ("t1", "x1", "CONFIGURE", {})))
    assert not refused.results[0].ok
    (result,) = (await runner.control(batch("r2", ("t1", "x2", "EXIT", {})))).results
    assert result.ok
    assert (await statuses.wait_for("t1", "TASK_KILLED")).signal in (None, signal.SIGTERM)


async def test_sigterm_makes_the_sample_task_exit_cleanly(
    runner: TaskRunner, statuses: StatusLog, tmp_path: Path
):
    await launch_ready(runner, statuses, tmp_path, "t1")
    pid = runner.report().tasks[0].pid
    assert pid
    os.kill(pid, signal.SIGTERM)
    finished = await statuses.wait_for("t1", "TASK_FINISHED")
    assert finished.exit_code == 0
    assert "transition EXIT -> DONE" in log_of(tmp_path, "t1")


def test_launch_spec_from_the_controller_payload(tmp_path: Path):
    from executor.runtime import LaunchSpec
    from mesosapi.o2messages import LaunchPayload

    payload = LaunchPayload.model_validate(
        {
            "command": {"value": "o2-sample-task", "arguments": ["--detector", "TPC"]},
            "control": "occ",
            "occPort": 31000,
            "env": {"O2_ENVIRONMENT": "env-1"},
        }
    )
    spec = LaunchSpec.from_payload("t1", payload, sandbox=tmp_path / "t1")
    assert spec.command.value == "o2-sample-task"
    assert spec.command.arguments == ("--detector", "TPC")
    assert not spec.command.shell
    assert (spec.occ_port, spec.env["O2_ENVIRONMENT"]) == (31000, "env-1")


async def test_framework_messages_in_and_out_as_bytes(
    runner: TaskRunner, statuses: StatusLog, tmp_path: Path
):
    from mesosapi.o2messages import LaunchPayload, decode_to_controller, encode

    payload = LaunchPayload.model_validate(
        {
            "command": {
                "value": sys.executable,
                "arguments": ["-m", "executor.sample_task"],
                "env": {"PYTHONPATH": REPO},
            }
        }
    )
    await runner.launch_task_info("t1", encode(payload), sandbox_root=tmp_path)
    await statuses.wait_for("t1", "TASK_RUNNING")
    reply = await runner.handle_message(encode(batch("r1", ("t1", "x1", "CONFIGURE", {}))))
    assert reply is not None
    results = decode_to_controller(reply)
    assert results.type == "results" and results.results[0].state == "CONFIGURED"  # type: ignore[union-attr]
    table = decode_to_controller(await runner.handle_message(b'{"type":"report"}') or b"")
    assert table.type == "table" and table.tasks[0].state == "CONFIGURED"  # type: ignore[union-attr]
    assert await runner.handle_message(b"not json") is None


async def test_bad_task_info_data_fails_the_task_naming_the_field(
    runner: TaskRunner, statuses: StatusLog, tmp_path: Path
):
    await runner.launch_task_info("t1", b'{"command": {}}', sandbox_root=tmp_path)
    failed = await statuses.wait_for("t1", "TASK_FAILED")
    assert "command.value" in failed.message
