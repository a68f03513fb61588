"""OCClite: the executor drives a FairMQ device whose command line loads the OCClite plugin
over AliECS's JSON transport (bare method paths, JSON bodies), as AliECS's executor does.

The stand-in (programs/occlite_standin.py) uses neither o2's code nor protobuf: it answers only
JSON calls at `GetState`, `Transition` and `EventStream`, as the plugin's server does.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from executor.occ.aliecs import occ_pb2
from executor.occ.occlite import uses_occlite
from executor.occ.occlite_json import decoder, encode
from executor.runtime import TaskRunner
from tests.executor.conftest import PROGRAMS, StatusLog, launch_spec, python_command
from tests.executor.test_aliecs_occ import PROPERTIES, START_ARGUMENTS, drive


def entries(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def transitions(log: list[dict[str, Any]]) -> list[tuple[str, str, list[dict[str, str]]]]:
    bodies = [e["body"] for e in log if e.get("method") == "Transition"]
    return [(b["transitionEvent"], b["srcState"], b.get("arguments", [])) for b in bodies]


def pairs(values: dict[str, str]) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in values.items()]


async def test_occlite_device_is_driven_over_json_through_the_whole_cycle(
    runner: TaskRunner, statuses: StatusLog, tmp_path: Path
) -> None:
    log = tmp_path / "occlite.jsonl"
    command = python_command(
        str(PROGRAMS / "occlite_standin.py"), "-P", "OCClite", env={"STANDIN_LOG": str(log)}
    )
    await runner.launch(launch_spec(tmp_path, "t1", command, control="fairmq"))
    running = await statuses.wait_for("t1", "TASK_RUNNING")
    assert running.occ_state == "STANDBY"
    assert await drive(runner, "t1", "CONFIGURE", **PROPERTIES) == "CONFIGURED"
    assert await drive(runner, "t1", "START", **START_ARGUMENTS) == "RUNNING"
    assert await drive(runner, "t1", "STOP") == "CONFIGURED"
    assert await drive(runner, "t1", "RESET") == "STANDBY"
    assert await drive(runner, "t1", "EXIT") == "DONE"
    finished = await statuses.wait_for("t1", "TASK_FINISHED")
    assert finished.exit_code == 0

    seen = entries(log)
    assert seen[0]["plugin"] == "OCClite" and isinstance(seen[0]["port"], int)
    assert {"method": "GetState", "body": {}} in seen
    assert {"method": "EventStream", "body": {}} in seen
    assert transitions(seen) == [
        ("INIT DEVICE", "IDLE", pairs(PROPERTIES)),
        ("COMPLETE INIT", "INITIALIZING DEVICE", []),
        ("BIND", "INITIALIZED", []),
        ("CONNECT", "BOUND", []),
        ("INIT TASK", "DEVICE READY", []),
        ("RUN", "READY", pairs(START_ARGUMENTS)),
        ("STOP", "RUNNING", []),
        ("RESET TASK", "READY", []),
        ("RESET DEVICE", "DEVICE READY", []),
        ("END", "IDLE", []),
    ]


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["/bin/bash", "-c", "o2-readout-exe --id x -P OCClite --severity info"], True),
        (["o2-device", "-P", "OCClite"], True),
        (["o2-device", "-P", "ODC"], False),
        (["o2-device", "--plugin", "OCClite"], False),
        (["o2-device", "OCClite", "-P"], False),
    ],
)
def test_occlite_is_chosen_as_aliecs_chooses_it(argv: list[str], expected: bool) -> None:
    assert uses_occlite(argv) is expected


def test_json_messages_are_the_plugins_objects() -> None:
    request = occ_pb2.TransitionRequest(
        srcState="IDLE",
        transitionEvent="INIT DEVICE",
        arguments=[occ_pb2.ConfigEntry(key="k", value="v"), occ_pb2.ConfigEntry(key="e")],
    )
    assert json.loads(encode(request)) == {
        "srcState": "IDLE",
        "transitionEvent": "INIT DEVICE",
        "arguments": [{"key": "k", "value": "v"}, {"key": "e"}],  # empty left out, as Go does
    }
    reply = decoder(occ_pb2.TransitionReply)(
        b'{"trigger":2,"state":"ERROR","transitionEvent":"RUN","ok":false}'
    )
    assert (reply.trigger, reply.state, reply.ok) == (occ_pb2.DEVICE_ERROR, "ERROR", False)
    event = decoder(occ_pb2.EventStreamReply)(b'{"event":{"type":0}}')
    assert event.event.type == occ_pb2.NULL_DEVICE_EVENT
