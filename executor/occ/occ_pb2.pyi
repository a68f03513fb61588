# mypy: ignore-errors
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DeviceEventType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DEVICE_EVENT_TYPE_UNSPECIFIED: _ClassVar[DeviceEventType]
    END_OF_STREAM: _ClassVar[DeviceEventType]
    INTERNAL_ERROR: _ClassVar[DeviceEventType]
    STATE_CHANGE: _ClassVar[DeviceEventType]
DEVICE_EVENT_TYPE_UNSPECIFIED: DeviceEventType
END_OF_STREAM: DeviceEventType
INTERNAL_ERROR: DeviceEventType
STATE_CHANGE: DeviceEventType

class Empty(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class TransitionRequest(_message.Message):
    __slots__ = ("event", "arguments", "src_state", "transition_id")
    class ArgumentsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    EVENT_FIELD_NUMBER: _ClassVar[int]
    ARGUMENTS_FIELD_NUMBER: _ClassVar[int]
    SRC_STATE_FIELD_NUMBER: _ClassVar[int]
    TRANSITION_ID_FIELD_NUMBER: _ClassVar[int]
    event: str
    arguments: _containers.ScalarMap[str, str]
    src_state: str
    transition_id: str
    def __init__(self, event: _Optional[str] = ..., arguments: _Optional[_Mapping[str, str]] = ..., src_state: _Optional[str] = ..., transition_id: _Optional[str] = ...) -> None: ...

class TransitionReply(_message.Message):
    __slots__ = ("state", "ok", "message")
    STATE_FIELD_NUMBER: _ClassVar[int]
    OK_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    state: str
    ok: bool
    message: str
    def __init__(self, state: _Optional[str] = ..., ok: _Optional[bool] = ..., message: _Optional[str] = ...) -> None: ...

class StateReply(_message.Message):
    __slots__ = ("state", "pid")
    STATE_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    state: str
    pid: int
    def __init__(self, state: _Optional[str] = ..., pid: _Optional[int] = ...) -> None: ...

class DeviceEvent(_message.Message):
    __slots__ = ("type", "message", "state")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    type: DeviceEventType
    message: str
    state: str
    def __init__(self, type: _Optional[_Union[DeviceEventType, str]] = ..., message: _Optional[str] = ..., state: _Optional[str] = ...) -> None: ...
