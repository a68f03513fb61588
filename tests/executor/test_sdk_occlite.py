"""The o2 SDK serves OCClite when its command line loads the plugin (`-P OCClite`), so the sample
task, given the arguments AliECS appends to a FairMQ device's, is driven by the real executor
over OCClite's JSON in FairMQ states, directly and through the StfBuilder stand-in."""

from __future__ import annotations

import json
from pathlib import Path

import grpc
import pytest

from controller.environments.fmqargs import FairMQPlugin, with_fairmq_arguments
from executor.fairmq_device import FairMQDevice
from executor.occ.aliecs import occ_pb2
from executor.occ.grpc_adapter import OccClient, OccServer, TransitionCall
from executor.occ.occlite_json import decoder, encode
from executor.runtime import LaunchSpec, TaskRunner
from executor.sdk import OccMachine, OccTask, occlite_setup
from executor.supervisor import CommandSpec
from tests.executor.aliecs_commands import load
from tests.executor.conftest import StatusLog, launch_spec, sample_task
from tests.executor.test_aliecs_occ import PROPERTIES, START_ARGUMENTS, drive
from tests.executor.test_aliecs_standins import VARIABLES, runnable

AliECS_TAIL = with_fairmq_arguments((), task_id="env-1-stfb", plugin=FairMQPlugin())
"""What the controller appends to a `fairmq` task: `--id env-1-stfb -S ... -P OCClite ...`."""


async def cycle(runner: TaskRunner, task_id: str) -> None:
    assert await drive(runner, task_id, "CONFIGURE", **PROPERTIES) == "CONFIGURED"
    assert await drive(runner, task_id, "START", **START_ARGUMENTS) == "RUNNING"
    assert await drive(runner, task_id, "STOP") == "CONFIGURED"
    assert await drive(runner, task_id, "RESET") == "STANDBY"
    assert await drive(runner, task_id, "EXIT") == "DONE"


def test_a_command_line_with_occlite_serves_json_as_a_fairmq_device() -> None:
    assert occlite_setup(["--id", "x", "-P", "OCClite"], None) == ("json", FairMQDevice)
    assert occlite_setup(["--detector", "TPC"], None) == ("protobuf", None)
    assert occlite_setup(["-P", "OCC"], FairMQDevice) == ("protobuf", FairMQDevice)


async def test_json_server_answers_at_bare_paths_and_not_in_protobuf() -> None:
    server = OccServer(FairMQDevice(OccMachine(OccTask())), port=0, transport="json")
    port = await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    protobuf = OccClient(port)
    try:
        get_state = channel.unary_unary(
            "GetState", request_serializer=bytes, response_deserializer=bytes
        )
        assert json.loads(await get_state(b"{}", timeout=5))["state"] == "IDLE"
        transition = channel.unary_unary(
            "Transition", request_serializer=encode, response_deserializer=bytes
        )
        request = occ_pb2.TransitionRequest(srcState="IDLE", transitionEvent="INIT DEVICE")
        reply = json.loads(await transition(request, timeout=5))
        assert reply == {
            "state": "INITIALIZING DEVICE",
            "transitionEvent": "INIT DEVICE",
            "ok": True,
        }
        assert decoder(occ_pb2.TransitionReply)(json.dumps(reply).encode()).ok
        with pytest.raises(Exception, match="UNIMPLEMENTED"):
            await protobuf.transition(TransitionCall(event="COMPLETE INIT"), deadline=5)
    finally:
        await protobuf.close()
        await channel.close()
        await server.stop(grace=0)


async def test_sample_task_with_aliecs_fairmq_arguments_is_driven_over_occlite(
    runner: TaskRunner, statuses: StatusLog, tmp_path: Path
) -> None:
    command = sample_task("--control", "fairmq", *AliECS_TAIL)
    await runner.launch(launch_spec(tmp_path, "t1", command, control="fairmq"))
    running = await statuses.wait_for("t1", "TASK_RUNNING", within=30)
    assert running.occ_state == "STANDBY"
    await cycle(runner, "t1")
    finished = await statuses.wait_for("t1", "TASK_FINISHED")
    assert finished.exit_code == 0
    lines = (tmp_path / "t1" / "stdout").read_text()
    assert "transition START -> RUNNING detector=TST run_number=4242" in lines


async def test_stfbuilder_stand_in_with_the_appended_arguments_is_driven_over_occlite(
    runner: TaskRunner, statuses: StatusLog, tmp_path: Path
) -> None:
    template = load("stfbuilder", VARIABLES)
    command = runnable(template, tmp_path)
    with_tail = CommandSpec(
        value=command.value,
        arguments=(*command.arguments, *AliECS_TAIL),
        env=command.env,
        shell=command.shell,
        user=command.user,
        stdout=command.stdout,
        stderr=command.stderr,
    )
    spec = LaunchSpec(
        task_id="stfb", command=with_tail, sandbox=tmp_path / "stfb", control="fairmq"
    )
    await runner.launch(spec)
    await statuses.wait_for("stfb", "TASK_RUNNING", within=30)
    await cycle(runner, "stfb")
    finished = await statuses.wait_for("stfb", "TASK_FINISHED")
    assert finished.exit_code == 0
    stdout = (tmp_path / "stfb" / "stdout").read_text()
    assert "-P OCClite" in stdout  # the stand-in saw the arguments and passed them on
