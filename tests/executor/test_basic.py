"""AliECS basic tasks in the executor: no process until START, killed at STOP, exit reported."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

from executor.runtime import TaskRunner, Timeouts
from mesosapi.o2messages import BASIC_TASK_TERMINATED, DeviceEventMessage
from tests.executor.conftest import StatusLog, launch_spec, python_command
from tests.executor.test_runtime import batch


class Events:
    def __init__(self) -> None:
        self.queue: asyncio.Queue[DeviceEventMessage] = asyncio.Queue()

    def __call__(self, message: DeviceEventMessage) -> None:
        self.queue.put_nowait(message)

    async def next(self) -> DeviceEventMessage:
        async with asyncio.timeout(20):
            return await self.queue.get()


def _runner(statuses: StatusLog, events: Events) -> TaskRunner:
    timeouts = Timeouts(startup=20.0, kill_step=2.0, kill_grace=1.0)
    return TaskRunner(on_status=statuses, on_event=events, timeouts=timeouts)


def _script(tmp_path: Path, code: int) -> tuple[str, ...]:
    marker = tmp_path / "ran"
    return ("-c", f"open({str(marker)!r}, 'a').write('x'); raise SystemExit({code})")


async def test_basic_task_runs_its_command_at_start_and_reports_its_exit(tmp_path: Path) -> None:
    statuses, events = StatusLog(), Events()
    runner = _runner(statuses, events)
    try:
        command = python_command(*_script(tmp_path, 3))
        await runner.launch(launch_spec(tmp_path, "t1", command, control="basic"))
        running = await statuses.wait_for("t1", "TASK_RUNNING")
        assert running.occ_state == "STANDBY"
        configure = await runner.control(batch("r1", ("t1", "x1", "CONFIGURE", {})))
        assert (configure.results[0].ok, configure.results[0].state) == (True, "CONFIGURED")
        assert not (tmp_path / "ran").exists()  # nothing runs before START
        start = await runner.control(batch("r2", ("t1", "x2", "START", {"run_number": "7"})))
        assert (start.results[0].ok, start.results[0].state) == (True, "RUNNING")
        ended = await events.next()
        assert (ended.event, ended.exit_code, ended.state) == (BASIC_TASK_TERMINATED, 3, "RUNNING")
        assert statuses.states("t1") == ["TASK_RUNNING"]  # the task lives on after its process
        stop = await runner.control(batch("r3", ("t1", "x3", "STOP", {})))
        assert (stop.results[0].ok, stop.results[0].state) == (True, "CONFIGURED")
        again = await runner.control(batch("r4", ("t1", "x4", "START", {})))
        assert again.results[0].ok
        assert (await events.next()).exit_code == 3
        assert (tmp_path / "ran").read_text() == "xx"  # once per START
        await runner.control(batch("r5", ("t1", "x5", "STOP", {}), ("t1", "x6", "EXIT", {})))
        finished = await statuses.wait_for("t1", "TASK_FINISHED")
        assert finished.occ_state == "DONE"
    finally:
        await runner.close()


async def test_stop_kills_a_basic_task_still_running_without_an_exit_event(
    tmp_path: Path,
) -> None:
    statuses, events = StatusLog(), Events()
    runner = _runner(statuses, events)
    try:
        command = python_command("-c", "import time; time.sleep(600)")
        await runner.launch(launch_spec(tmp_path, "t1", command, control="basic"))
        await statuses.wait_for("t1", "TASK_RUNNING")
        await runner.control(batch("r1", ("t1", "x1", "CONFIGURE", {}), ("t1", "x2", "START", {})))
        pid = runner.report().tasks[0].pid
        assert pid is not None
        stop = await runner.control(batch("r2", ("t1", "x3", "STOP", {})))
        assert (stop.results[0].ok, stop.results[0].state) == (True, "CONFIGURED")
        assert events.queue.empty()
        await runner.kill("t1")
        assert (await statuses.wait_for("t1", "TASK_KILLED")).occ_state == "DONE"
    finally:
        await runner.close()


async def test_a_basic_task_past_its_memory_limit_is_killed_and_says_why(tmp_path: Path) -> None:
    statuses, events = StatusLog(), Events()
    runner = _runner(statuses, events)
    try:
        grow = "b = bytearray(400 * 1024 * 1024); import time; time.sleep(60)"
        spec = launch_spec(tmp_path, "t1", python_command("-c", grow), control="basic")
        await runner.launch(dataclasses.replace(spec, memory_limit_mb=100))
        await statuses.wait_for("t1", "TASK_RUNNING")
        await runner.control(batch("r1", ("t1", "x1", "CONFIGURE", {})))
        await runner.control(batch("r2", ("t1", "x2", "START", {})))
        ended = await events.next()
        assert ended.event == BASIC_TASK_TERMINATED and ended.signal == 9
        assert "memory limit of 100 MB exceeded" in ended.message
    finally:
        await runner.close()
