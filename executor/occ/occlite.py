"""OCClite: AliECS's JSON transport of occ_pb.Occ, served by FairMQ devices' OCClite plugin.

AliECS's executor picks it instead of protobuf when an argument of the task's command line
contains `-P OCClite` (executor/executable/controllabletask.go); o2 also accepts `-P` and
`OCClite` as two consecutive arguments (an argv command rather than a shell line). The device
is a FairMQ one: states, events and the `--control-port` hand-over are those of `fairmq`.

The wire, as AliECS's client (executor/executorcmd/nopb) and the plugin's server
(occ/plugin/OccLiteServer.cxx, litestructs/) have it: the same gRPC calls, at the method paths
`GetState`, `Transition`, `EventStream` and `StateStream` (no `/package.Service/` prefix), each
message the JSON object of its occ.proto message: proto field names (`srcState`,
`transitionEvent`, `arguments: [{key, value}]`), enums as numbers (`trigger`, `event.type`),
empty fields left out (Go's encoding/json of the generated structs: `omitempty`). AliECS's
client marks calls with the content subtype `json` (grpcio cannot; the plugin does not look).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Sequence
from typing import Any

from google.protobuf import json_format

from executor.occ.aliecs import occ_pb2

OCCLITE_FLAG = "-P OCClite"
METHODS = ("GetState", "Transition", "EventStream", "StateStream")


def uses_occlite(argv: Sequence[str]) -> bool:
    """Whether the command line loads the OCClite plugin (AliECS's test, per argument, plus
    `-P`, `OCClite` as two arguments)."""
    if any(OCCLITE_FLAG in arg for arg in argv):
        return True
    return any(pair == ("-P", "OCClite") for pair in itertools.pairwise(argv))


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
