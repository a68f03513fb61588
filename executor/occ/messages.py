"""The plain values OCC calls carry, on both sides (executor.occ.grpc_adapter's client,
executor.occ.server's server): the executor's logic and the SDK's state machine speak these,
never protobuf or grpc types. Importing this module loads neither."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol

from executor.occ.transitioner import Trigger

LOOPBACK = "127.0.0.1"

Transport = Literal["protobuf", "json"]
"""How calls are encoded: occ.proto's protobuf, or OCClite's JSON (AliECS's two transports)."""


@dataclass(frozen=True)
class TransitionCall:
    """A TransitionRequest: the event, the state the caller believes the task is in, arguments."""

    event: str
    arguments: Mapping[str, str] = field(default_factory=dict)
    src_state: str = ""


@dataclass(frozen=True)
class TransitionOutcome:
    """A TransitionReply. `trigger` is EXECUTOR, DEVICE_INTENTIONAL or DEVICE_ERROR."""

    state: str
    ok: bool
    trigger: Trigger = "EXECUTOR"
    event: str = ""


@dataclass(frozen=True)
class StateInfo:
    state: str
    pid: int


@dataclass(frozen=True)
class DeviceEventInfo:
    """A spontaneous task event: END_OF_STREAM, TASK_INTERNAL_ERROR or BASIC_TASK_TERMINATED."""

    type: str


class OccHandler(Protocol):
    """What a task implements to be served over occ_pb.Occ (the SDK's state machine)."""

    async def transition(self, call: TransitionCall) -> TransitionOutcome: ...

    def get_state(self) -> StateInfo: ...

    def subscribe(self) -> AsyncIterator[DeviceEventInfo]: ...

    def watch_states(self) -> AsyncIterator[str]: ...
