"""Framework MESSAGE payloads: camelCase wire form, discriminated decoding, clear errors."""

from __future__ import annotations

import json

import pytest

from crds.errors import ValidationError
from mesosapi.o2messages import (
    ControlItem,
    ControlRequest,
    ControlResults,
    LaunchPayload,
    ReportRequest,
    TaskTableReport,
    TransitionResult,
    decode_launch,
    decode_to_controller,
    decode_to_executor,
    encode,
)


def test_control_request_round_trips_in_camel_case():
    request = ControlRequest(
        request_id="r1",
        items=(
            ControlItem(task_id="t1", transition_id="x1", event="CONFIGURE", arguments={"a": "1"}),
        ),
    )
    wire = json.loads(encode(request))
    assert wire["requestId"] == "r1"
    assert wire["items"][0]["transitionId"] == "x1"
    assert decode_to_executor(encode(request)) == request


def test_report_request_decodes_by_type():
    assert isinstance(decode_to_executor(b'{"type": "report"}'), ReportRequest)


def test_executor_messages_decode_by_type():
    results = ControlResults(
        request_id="r1",
        results=(TransitionResult(task_id="t1", transition_id="x1", ok=True, state="CONFIGURED"),),
    )
    assert decode_to_controller(encode(results)) == results
    table = TaskTableReport(sequence=3)
    assert decode_to_controller(encode(table)) == table


def test_garbage_message_names_the_bad_field():
    with pytest.raises(ValidationError) as info:
        decode_to_executor(b'{"type": "control", "requestId": "r", "items": [{"taskId": "t"}]}')
    assert "items.0.transitionId" in str(info.value)


def test_unknown_message_type_is_rejected():
    with pytest.raises(ValidationError):
        decode_to_controller(b'{"type": "bogus"}')


def test_launch_payload_carries_command_and_port():
    payload = LaunchPayload.model_validate(
        {
            "command": {"value": "o2-sample-task", "arguments": ["--detector", "TPC"]},
            "occPort": 31000,
        }
    )
    assert decode_launch(encode(payload)) == payload
    assert payload.command.shell is False
