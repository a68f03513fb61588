"""The OCC gRPC adapter: AliECS's occ_pb.Occ, the executor's async client (the task's server is
executor.occ.server, re-exported here).

With executor.occ.server, the only module that imports grpc. The wire protocol is AliECS's
official occ.proto (executor.occ.aliecs), so the executor drives real OCClib tasks and FairMQ
devices, and o2 tasks can be driven by AliECS. Everything else speaks in the plain dataclasses
of executor.occ.messages, so the executor's logic and the SDK's state machine never see
protobuf or grpc types.

Authentication (executor.occ.auth): a client given a token sends it as metadata on every call.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import grpc

from executor.errors import OccError, OccTimeoutError, OccUnavailableError
from executor.occ.aliecs import occ_pb2, occ_pb2_grpc
from executor.occ.auth import TOKEN_METADATA_KEY
from executor.occ.messages import (
    LOOPBACK,
    DeviceEventInfo,
    OccHandler,
    StateInfo,
    TransitionCall,
    TransitionOutcome,
    Transport,
)
from executor.occ.occlite_json import JsonStub
from executor.occ.server import OccServer
from executor.occ.transitioner import Trigger

__all__ = [
    "DeviceEventInfo",
    "OccClient",
    "OccHandler",
    "OccServer",
    "StateInfo",
    "TransitionCall",
    "TransitionOutcome",
    "Transport",
]

log = logging.getLogger(__name__)

# Fast reconnects (a starting task's port opens within milliseconds to seconds), no proxy for
# loopback.
_CHANNEL_OPTIONS = [
    ("grpc.enable_http_proxy", 0),
    ("grpc.initial_reconnect_backoff_ms", 50),
    ("grpc.min_reconnect_backoff_ms", 50),
    ("grpc.max_reconnect_backoff_ms", 500),
]

# The generated stubs are untyped; reach them through Any so callers stay mypy-strict.
_new_stub: Any = occ_pb2_grpc.OccStub


def _error_from_rpc(target: str, exc: Any) -> OccError:
    code = exc.code()
    detail = f"{code.name}: {exc.details() or ''}".rstrip(": ")
    if code == grpc.StatusCode.UNAVAILABLE:
        return OccUnavailableError(target, detail)
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return OccTimeoutError(target, detail)
    return OccError(target, detail)


def _trigger(value: int) -> Trigger:
    name = occ_pb2.StateChangeTrigger.Name(value)
    return name if name in ("DEVICE_INTENTIONAL", "DEVICE_ERROR") else "EXECUTOR"


class OccClient:
    """One channel to one task's occ_pb.Occ server on the loopback interface, over protobuf or
    OCClite's JSON (`transport="json"`, executor.occ.occlite)."""

    def __init__(
        self,
        port: int,
        *,
        host: str = LOOPBACK,
        token: str | None = None,
        transport: Transport = "protobuf",
    ) -> None:
        self.target = f"{host}:{port}"
        self.transport = transport
        self._channel = grpc.aio.insecure_channel(self.target, options=_CHANNEL_OPTIONS)
        self._stub = JsonStub(self._channel) if transport == "json" else _new_stub(self._channel)
        self._metadata = ((TOKEN_METADATA_KEY, token),) if token else None

    async def get_state(self, *, deadline: float = 5.0, wait_for_ready: bool = False) -> StateInfo:
        """The task's state. With `wait_for_ready`, waits up to `deadline` s for the port."""
        try:
            reply = await self._stub.GetState(
                occ_pb2.GetStateRequest(),
                timeout=deadline,
                wait_for_ready=wait_for_ready,
                metadata=self._metadata,
            )
        except grpc.aio.AioRpcError as exc:
            raise _error_from_rpc(self.target, exc) from exc
        except grpc.aio.UsageError as exc:
            raise OccUnavailableError(self.target, f"channel closed: {exc}") from exc
        return StateInfo(state=reply.state, pid=int(reply.pid))

    async def transition(
        self, call: TransitionCall, *, deadline: float = 30.0
    ) -> TransitionOutcome:
        """One Transition; the arguments travel as ConfigEntry pairs, as AliECS sends them."""
        request = occ_pb2.TransitionRequest(
            srcState=call.src_state,
            transitionEvent=call.event,
            arguments=[occ_pb2.ConfigEntry(key=k, value=v) for k, v in call.arguments.items()],
        )
        try:
            reply = await self._stub.Transition(request, timeout=deadline, metadata=self._metadata)
        except grpc.aio.AioRpcError as exc:
            raise _error_from_rpc(self.target, exc) from exc
        except grpc.aio.UsageError as exc:
            raise OccUnavailableError(self.target, f"channel closed: {exc}") from exc
        return TransitionOutcome(
            state=reply.state,
            ok=bool(reply.ok),
            trigger=_trigger(reply.trigger),
            event=reply.transitionEvent,
        )

    async def events(self) -> AsyncIterator[DeviceEventInfo]:
        """The task's event stream; ends when the task closes it, sends NULL_DEVICE_EVENT (as
        AliECS's executor treats it) or goes away."""
        call = self._stub.EventStream(occ_pb2.EventStreamRequest(), metadata=self._metadata)
        try:
            async for reply in call:
                kind = reply.event.type
                if kind == occ_pb2.NULL_DEVICE_EVENT:
                    return
                yield DeviceEventInfo(type=occ_pb2.DeviceEventType.Name(kind))
        except grpc.aio.AioRpcError as exc:
            if exc.code() not in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED):
                raise _error_from_rpc(self.target, exc) from exc
        finally:
            call.cancel()

    async def close(self) -> None:
        await self._channel.close()
