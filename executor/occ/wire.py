"""occ.proto's messages in protobuf's wire format, written and read by hand for the task side.

A task serves four calls with six small messages (executor.occ.aliecs/occ.proto); encoding them
here spares every task process the protobuf runtime (~2.4 MB of private memory and ~35 ms of
CPU at start, paid once per task). The bytes are those protobuf writes (proto3: fields in number
order, default values left out, a set submessage always written), and reading follows protobuf's
rules (unknown fields skipped, the last value of a repeated scalar wins), which
tests/executor/test_occ_wire.py checks against the generated occ_pb2. The executor, one process
per agent, keeps the generated code (executor.occ.grpc_adapter).
"""

from __future__ import annotations

from executor.errors import OccError
from executor.occ.messages import DeviceEventInfo, StateInfo, TransitionCall, TransitionOutcome

TRIGGERS = {"EXECUTOR": 0, "DEVICE_INTENTIONAL": 1, "DEVICE_ERROR": 2}
"""occ.proto's StateChangeTrigger."""
DEVICE_EVENTS = {
    "NULL_DEVICE_EVENT": 0,
    "END_OF_STREAM": 1,
    "BASIC_TASK_TERMINATED": 2,
    "TASK_INTERNAL_ERROR": 3,
}
"""occ.proto's DeviceEventType."""
STATE_STABLE = 0
_VARINT, _I64, _LEN, _I32 = 0, 1, 2, 5


def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # negative int32/enum values: ten bytes, two's complement
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _key(number: int, wire_type: int) -> bytes:
    return _varint(number << 3 | wire_type)


def _string(number: int, value: str) -> bytes:
    if not value:
        return b""
    data = value.encode()
    return _key(number, _LEN) + _varint(len(data)) + data


def _integer(number: int, value: int) -> bytes:
    return _key(number, _VARINT) + _varint(value) if value else b""


def get_state_reply(info: StateInfo) -> bytes:
    return _string(1, info.state) + _integer(2, info.pid)


def transition_reply(outcome: TransitionOutcome) -> bytes:
    return (
        _integer(1, TRIGGERS[outcome.trigger])
        + _string(2, outcome.state)
        + _string(3, outcome.event)
        + _integer(4, int(outcome.ok))
    )


def event_stream_reply(event: DeviceEventInfo) -> bytes:
    inner = _integer(1, DEVICE_EVENTS[event.type])
    return _key(1, _LEN) + _varint(len(inner)) + inner


def state_stream_reply(state: str) -> bytes:
    return _integer(1, STATE_STABLE) + _string(2, state)


def empty_request(data: bytes) -> None:
    """GetStateRequest, EventStreamRequest, StateStreamRequest: no fields (any sent are
    unknown ones, skipped); still checked to be well-formed, as protobuf does."""
    for _ in _fields(data):
        pass


def transition_request(data: bytes) -> TransitionCall:
    src, event, arguments = "", "", {}
    for number, wire_type, value in _fields(data):
        if wire_type != _LEN or not isinstance(value, bytes):
            continue
        if number == 1:
            src = value.decode()
        elif number == 2:
            event = value.decode()
        elif number == 3:
            key, text = _config_entry(value)
            arguments[key] = text
    return TransitionCall(event=event, arguments=arguments, src_state=src)


def _config_entry(data: bytes) -> tuple[str, str]:
    key, value = "", ""
    for number, wire_type, field in _fields(data):
        if wire_type == _LEN and isinstance(field, bytes):
            if number == 1:
                key = field.decode()
            elif number == 2:
                value = field.decode()
    return key, value


def _read_varint(data: bytes, at: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        if at >= len(data) or shift > 63:
            raise OccError("occ request", "truncated or overlong varint in a protobuf message")
        byte = data[at]
        value |= (byte & 0x7F) << shift
        at, shift = at + 1, shift + 7
        if not byte & 0x80:
            return value, at


def _fields(data: bytes) -> list[tuple[int, int, int | bytes]]:
    """(field number, wire type, value) of each field; groups are not in occ.proto."""
    found: list[tuple[int, int, int | bytes]] = []
    at = 0
    while at < len(data):
        key, at = _read_varint(data, at)
        number, wire_type = key >> 3, key & 7
        value: int | bytes
        if wire_type == _VARINT:
            value, at = _read_varint(data, at)
        elif wire_type in (_I64, _I32):
            size = 8 if wire_type == _I64 else 4
            value, at = int.from_bytes(data[at : at + size], "little"), at + size
        elif wire_type == _LEN:
            size, at = _read_varint(data, at)
            value, at = data[at : at + size], at + size
        else:
            raise OccError("occ request", f"unsupported protobuf wire type {wire_type}")
        if number == 0 or at > len(data):
            raise OccError("occ request", "malformed protobuf message")
        found.append((number, wire_type, value))
    return found
