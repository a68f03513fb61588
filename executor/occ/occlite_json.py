"""OCClite's JSON (executor.occ.occlite) on occ_pb2's messages: the executor's client stub and
the codec a task serving OCClite uses (executor.occ.server). Each message is the JSON object of
its occ.proto message, as protobuf's JSON mapping writes it with proto field names and enums as
numbers; loaded only where OCClite is spoken."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from google.protobuf import json_format

from executor.occ.aliecs import occ_pb2
from executor.occ.messages import DeviceEventInfo, StateInfo, TransitionCall, TransitionOutcome


def encode(message: Any) -> bytes:
    """A protobuf message as OCClite's JSON object."""
    body = json_format.MessageToDict(
        message, preserving_proto_field_name=True, use_integers_for_enums=True
    )
    return json.dumps(body, separators=(",", ":")).encode()


def decoder(message_type: Any) -> Callable[[bytes], Any]:
    """Reads OCClite's JSON object into a `message_type` message (unknown fields ignored)."""

    def decode(data: bytes) -> Any:
        body = json.loads(data or b"{}")
        return json_format.ParseDict(body, message_type(), ignore_unknown_fields=True)

    return decode


class JsonStub:
    """occ_pb2_grpc.OccStub's calls over OCClite's JSON transport, on an aio channel."""

    def __init__(self, channel: Any) -> None:
        self.GetState = channel.unary_unary(
            "GetState",
            request_serializer=encode,
            response_deserializer=decoder(occ_pb2.GetStateReply),
        )
        self.Transition = channel.unary_unary(
            "Transition",
            request_serializer=encode,
            response_deserializer=decoder(occ_pb2.TransitionReply),
        )
        self.EventStream = channel.unary_stream(
            "EventStream",
            request_serializer=encode,
            response_deserializer=decoder(occ_pb2.EventStreamReply),
        )
        self.StateStream = channel.unary_stream(
            "StateStream",
            request_serializer=encode,
            response_deserializer=decoder(occ_pb2.StateStreamReply),
        )


def transition_request(data: bytes) -> TransitionCall:
    """A TransitionRequest's JSON as the call the task's handler takes."""
    request = decoder(occ_pb2.TransitionRequest)(data)
    return TransitionCall(
        event=request.transitionEvent,
        arguments={entry.key: entry.value for entry in request.arguments},
        src_state=request.srcState,
    )


def empty_request(data: bytes) -> None:
    """GetStateRequest, EventStreamRequest, StateStreamRequest: read (and checked) only."""
    decoder(occ_pb2.GetStateRequest)(data)


def get_state_reply(info: StateInfo) -> bytes:
    return encode(occ_pb2.GetStateReply(state=info.state, pid=info.pid))


def transition_reply(outcome: TransitionOutcome) -> bytes:
    return encode(
        occ_pb2.TransitionReply(
            trigger=occ_pb2.StateChangeTrigger.Value(outcome.trigger),
            state=outcome.state,
            transitionEvent=outcome.event,
            ok=outcome.ok,
        )
    )


def event_stream_reply(event: DeviceEventInfo) -> bytes:
    kind = occ_pb2.DeviceEventType.Value(event.type)
    return encode(occ_pb2.EventStreamReply(event=occ_pb2.DeviceEvent(type=kind)))


def state_stream_reply(state: str) -> bytes:
    return encode(occ_pb2.StateStreamReply(type=occ_pb2.STATE_STABLE, state=state))
