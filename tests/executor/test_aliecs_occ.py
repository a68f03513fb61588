"""The executor drives real-protocol (AliECS occ_pb.Occ) processes in `direct` and `fairmq` modes.

The stand-in (programs/occ_standin.py) is built only from the official occ.proto stubs, not
o2's SDK, and logs every call it gets; the executor under test is the real TaskRunner.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from crds.kinds.common import ControlMode
from crds.kinds.taskclass import TaskClassSpec
from executor.occ.transitioner import FairMQTransitioner, Step, StepReply
from executor.runtime import TaskRunner
from mesosapi.o2messages import ControlItem, ControlRequest, LaunchPayload
from tests.executor.conftest import PROGRAMS, StatusLog, launch_spec, python_command

PROPERTIES = {"detector": "TPC", "card": "#1"}
START_ARGUMENTS = {"runNumber": "4242", "run_start_time_ms": "1700000000000"}


async def drive(runner: TaskRunner, task_id: str, event: str, **arguments: str) -> str:
    item = ControlItem(
        task_id=task_id, transition_id=f"x-{event}", event=event, arguments=arguments
    )
    request = ControlRequest(request_id=f"r-{event}", items=(item,), timeout_seconds=10)
    (result,) = (await runner.control(request)).results
    assert result.ok, result
    return result.state


async def run_full_cycle(
    runner: TaskRunner, statuses: StatusLog, tmp_path: Path, mode: ControlMode
) -> list[dict[str, object]]:
    """Launch the stand-in in `mode`, walk it through the whole cycle and EXIT; its log."""
    log = tmp_path / f"{mode}.jsonl"
    command = python_command(
        str(PROGRAMS / "occ_standin.py"), "--mode", mode, env={"STANDIN_LOG": str(log)}
    )
    await runner.launch(launch_spec(tmp_path, "t1", command, control=mode))
    running = await statuses.wait_for("t1", "TASK_RUNNING")
    assert running.occ_state == "STANDBY"
    assert await drive(runner, "t1", "CONFIGURE", **PROPERTIES) == "CONFIGURED"
    assert await drive(runner, "t1", "START", **START_ARGUMENTS) == "RUNNING"
    assert await drive(runner, "t1", "STOP") == "CONFIGURED"
    assert await drive(runner, "t1", "RESET") == "STANDBY"
    assert await drive(runner, "t1", "EXIT") == "DONE"
    finished = await statuses.wait_for("t1", "TASK_FINISHED")
    assert finished.exit_code == 0
    return [json.loads(line) for line in log.read_text().splitlines()]


def calls(log: list[dict[str, object]]) -> list[tuple[object, object, object]]:
    return [(e["event"], e["src"], e["arguments"]) for e in log if "event" in e]


async def test_direct_standin_gets_properties_at_configure_and_run_number_at_start(
    runner: TaskRunner, statuses: StatusLog, tmp_path: Path
):
    log = await run_full_cycle(runner, statuses, tmp_path, "direct")
    start = log[0]
    assert start["env_port"] is not None and start["port"] == int(str(start["env_port"]))
    assert start["arg_port"] is None  # direct tasks learn their port from the environment only
    assert calls(log) == [
        ("CONFIGURE", "STANDBY", PROPERTIES),
        ("START", "CONFIGURED", START_ARGUMENTS),
        ("STOP", "RUNNING", {}),
        ("RESET", "CONFIGURED", {}),
        ("EXIT", "STANDBY", {}),
    ]
    assert {"stream": "events"} in log  # the executor listens to the task's EventStream


async def test_fairmq_standin_is_driven_through_fairmq_multi_step_sequences(
    runner: TaskRunner, statuses: StatusLog, tmp_path: Path
):
    log = await run_full_cycle(runner, statuses, tmp_path, "fairmq")
    start = log[0]
    assert start["port"] == start["arg_port"] == int(str(start["env_port"]))
    assert calls(log) == [
        ("INIT DEVICE", "IDLE", PROPERTIES),
        ("COMPLETE INIT", "INITIALIZING DEVICE", {}),
        ("BIND", "INITIALIZED", {}),
        ("CONNECT", "BOUND", {}),
        ("INIT TASK", "DEVICE READY", {}),
        ("RUN", "READY", START_ARGUMENTS),
        ("STOP", "RUNNING", {}),
        ("RESET TASK", "READY", {}),
        ("RESET DEVICE", "DEVICE READY", {}),
        ("END", "IDLE", {}),
    ]


class ScriptedDevice:
    """A FairMQ device that answers each event from a script (the state it ends in)."""

    def __init__(self, answers: Mapping[str, str]) -> None:
        self.answers = answers
        self.seen: list[str] = []

    async def __call__(self, step: Step) -> StepReply:
        self.seen.append(step.event)
        state = self.answers.get(step.event, step.dst)
        return StepReply(state=state, ok=state == step.dst, event=step.event)


async def test_fairmq_configure_stuck_in_bound_rolls_back_to_idle():
    device = ScriptedDevice({"CONNECT": "BOUND"})
    outcome = await FairMQTransitioner(device).commit(
        event="CONFIGURE", src="STANDBY", arguments={}
    )
    assert device.seen == ["INIT DEVICE", "COMPLETE INIT", "BIND", "CONNECT", "RESET DEVICE"]
    assert (outcome.ok, outcome.state) == (False, "STANDBY")
    assert "CONNECT" in outcome.message


async def test_fairmq_exit_from_configured_resets_first():
    device = ScriptedDevice({})
    outcome = await FairMQTransitioner(device).commit(event="EXIT", src="CONFIGURED", arguments={})
    assert device.seen == ["RESET TASK", "RESET DEVICE", "END"]
    assert (outcome.ok, outcome.state) == (True, "DONE")


async def test_a_reply_not_triggered_by_the_executor_is_not_a_success():
    async def device(step: Step) -> StepReply:
        return StepReply(state=step.dst, ok=True, trigger="DEVICE_ERROR", event=step.event)

    outcome = await FairMQTransitioner(device).commit(event="START", src="CONFIGURED", arguments={})
    assert not outcome.ok and "DEVICE_ERROR" in outcome.message


def test_control_mode_occ_is_the_deprecated_name_of_direct():
    spec = TaskClassSpec.model_validate({"command": {"value": "readout.exe"}, "control": "occ"})
    assert spec.control == "direct"
    assert TaskClassSpec.model_validate({"command": {"value": "x"}}).control == "direct"
    payload = LaunchPayload.model_validate({"command": {"value": "x"}, "control": "occ"})
    assert payload.control == "direct"
