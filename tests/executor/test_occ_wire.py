"""A task writes and reads occ.proto's messages by hand (executor.occ.wire, no protobuf runtime
in the task process): the bytes are those of the generated occ_pb2, byte for byte, and a request
occ_pb2 writes reads back the same, unknown fields skipped."""

from __future__ import annotations

import itertools

import pytest

from executor.errors import OccError
from executor.occ import wire
from executor.occ.aliecs import occ_pb2
from executor.occ.messages import DeviceEventInfo, StateInfo, TransitionOutcome

STATES = ("", "STANDBY", "CONFIGURED", "ÉTAT-ü-" + "x" * 300)
PIDS = (0, 1, 127, 128, 300, 2**31 - 1, -1, -(2**31))


def test_get_state_reply_is_occ_pb2s() -> None:
    for state, pid in itertools.product(STATES, PIDS):
        expected = occ_pb2.GetStateReply(state=state, pid=pid).SerializeToString()
        assert wire.get_state_reply(StateInfo(state=state, pid=pid)) == expected


def test_transition_reply_is_occ_pb2s() -> None:
    triggers = ("EXECUTOR", "DEVICE_INTENTIONAL", "DEVICE_ERROR")
    for trigger, state, event, ok in itertools.product(
        triggers, STATES, ("", "CONFIGURE", "GO_ERROR"), (False, True)
    ):
        outcome = TransitionOutcome(state=state, ok=ok, trigger=trigger, event=event)  # type: ignore[arg-type]
        expected = occ_pb2.TransitionReply(
            trigger=occ_pb2.StateChangeTrigger.Value(trigger),
            state=state,
            transitionEvent=event,
            ok=ok,
        ).SerializeToString()
        assert wire.transition_reply(outcome) == expected


def test_stream_replies_are_occ_pb2s() -> None:
    assert dict(occ_pb2.DeviceEventType.items()) == wire.DEVICE_EVENTS
    assert dict(occ_pb2.StateChangeTrigger.items()) == wire.TRIGGERS
    for name, kind in occ_pb2.DeviceEventType.items():
        expected = occ_pb2.EventStreamReply(event=occ_pb2.DeviceEvent(type=kind))
        assert wire.event_stream_reply(DeviceEventInfo(type=name)) == expected.SerializeToString()
    for state in STATES:
        reply = occ_pb2.StateStreamReply(type=occ_pb2.STATE_STABLE, state=state)
        assert wire.state_stream_reply(state) == reply.SerializeToString()


def test_transition_request_reads_what_occ_pb2_writes() -> None:
    arguments = [("runNumber", "42"), ("chans.x.0.address", "tcp://*:5555"), ("é", ""), ("", "v")]
    arguments += [("dup", "first"), ("dup", "last"), ("big", "y" * 5000)]
    request = occ_pb2.TransitionRequest(
        srcState="CONFIGURED",
        transitionEvent="START",
        arguments=[occ_pb2.ConfigEntry(key=k, value=v) for k, v in arguments],
    )
    call = wire.transition_request(request.SerializeToString())
    assert (call.src_state, call.event) == ("CONFIGURED", "START")
    assert call.arguments == dict(arguments)  # a repeated key: the last one, as before
    assert wire.transition_request(b"") == wire.transition_request(
        occ_pb2.TransitionRequest().SerializeToString()
    )


def test_unknown_fields_are_skipped() -> None:
    known = occ_pb2.TransitionRequest(transitionEvent="EXIT").SerializeToString()
    unknown = bytes([9 << 3 | 0, 0x96, 0x01, 10 << 3 | 5, 1, 2, 3, 4, 11 << 3 | 1, *range(8)])
    unknown += bytes([12 << 3 | 2, 3]) + b"abc"
    assert wire.transition_request(unknown + known).event == "EXIT"
    wire.empty_request(unknown)
    parsed = occ_pb2.TransitionRequest.FromString(unknown + known)  # protobuf agrees
    assert parsed.transitionEvent == "EXIT"


@pytest.mark.parametrize("data", [b"\x12\x05ab", b"\x12", b"\x08\xff", b"\x0b", b"\x00\x01"])
def test_a_malformed_request_is_refused(data: bytes) -> None:
    with pytest.raises(OccError):
        wire.transition_request(data)
