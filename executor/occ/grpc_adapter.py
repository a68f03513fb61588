"""The OCC gRPC adapter: async client (executor side) and server (task SDK side).

The only module that imports grpc. Everything else speaks in the plain dataclasses below, so
the executor's logic and the SDK's state machine never see protobuf or grpc types.

Authentication (executor.occ.auth): a client given a token sends it as metadata on every call;
a server given a token refuses every call without it with UNAUTHENTICATED, in an interceptor,
before any handler runs, so it holds for whatever service the server carries.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import grpc

from executor.errors import OccError, OccTimeoutError, OccUnavailableError
from executor.occ import occ_pb2, occ_pb2_grpc
from executor.occ.auth import TOKEN_METADATA_KEY, token_matches

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"

# Fast reconnects (a starting task's port opens within milliseconds to seconds), no proxy for
# loopback, and no SO_REUSEPORT: two tasks must never silently share one OCC port.
_CHANNEL_OPTIONS = [
    ("grpc.enable_http_proxy", 0),
    ("grpc.initial_reconnect_backoff_ms", 50),
    ("grpc.min_reconnect_backoff_ms", 50),
    ("grpc.max_reconnect_backoff_ms", 500),
]
_SERVER_OPTIONS = [("grpc.so_reuseport", 0)]

# The generated stubs are untyped; reach them through Any so callers stay mypy-strict.
_new_stub: Any = occ_pb2_grpc.OccStub
_add_servicer: Any = occ_pb2_grpc.add_OccServicer_to_server


@dataclass(frozen=True)
class TransitionOutcome:
    state: str
    ok: bool
    message: str = ""


@dataclass(frozen=True)
class StateInfo:
    state: str
    pid: int


@dataclass(frozen=True)
class DeviceEventInfo:
    """A spontaneous task event; `type` is END_OF_STREAM, INTERNAL_ERROR or STATE_CHANGE."""

    type: str
    message: str = ""
    state: str = ""


@dataclass(frozen=True)
class TransitionCall:
    event: str
    arguments: Mapping[str, str] = field(default_factory=dict)
    src_state: str = ""
    transition_id: str = ""


def _error_from_rpc(target: str, exc: Any) -> OccError:
    code = exc.code()
    detail = f"{code.name}: {exc.details() or ''}".rstrip(": ")
    if code == grpc.StatusCode.UNAVAILABLE:
        return OccUnavailableError(target, detail)
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return OccTimeoutError(target, detail)
    return OccError(target, detail)


class OccClient:
    """One channel to one task's OCC server on the loopback interface."""

    def __init__(self, port: int, *, host: str = LOOPBACK, token: str | None = None) -> None:
        self.target = f"{host}:{port}"
        self._channel = grpc.aio.insecure_channel(self.target, options=_CHANNEL_OPTIONS)
        self._stub = _new_stub(self._channel)
        self._metadata = ((TOKEN_METADATA_KEY, token),) if token else None

    async def get_state(self, *, deadline: float = 5.0, wait_for_ready: bool = False) -> StateInfo:
        """The task's state. With `wait_for_ready`, waits up to `deadline` s for the port."""
        try:
            reply = await self._stub.GetState(
                occ_pb2.Empty(),
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
        request = occ_pb2.TransitionRequest(
            event=call.event,
            arguments=dict(call.arguments),
            src_state=call.src_state,
            transition_id=call.transition_id,
        )
        try:
            reply = await self._stub.Transition(request, timeout=deadline, metadata=self._metadata)
        except grpc.aio.AioRpcError as exc:
            raise _error_from_rpc(self.target, exc) from exc
        except grpc.aio.UsageError as exc:
            raise OccUnavailableError(self.target, f"channel closed: {exc}") from exc
        return TransitionOutcome(state=reply.state, ok=bool(reply.ok), message=reply.message)

    async def events(self) -> AsyncIterator[DeviceEventInfo]:
        """The task's event stream; ends when the task closes it or goes away."""
        call = self._stub.EventStream(occ_pb2.Empty(), metadata=self._metadata)
        try:
            async for event in call:
                yield DeviceEventInfo(
                    type=occ_pb2.DeviceEventType.Name(event.type),
                    message=event.message,
                    state=event.state,
                )
        except grpc.aio.AioRpcError as exc:
            if exc.code() not in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED):
                raise _error_from_rpc(self.target, exc) from exc
        finally:
            call.cancel()

    async def close(self) -> None:
        await self._channel.close()


class OccHandler(Protocol):
    """What a task implements to be served over OCC (the SDK's state machine)."""

    async def transition(self, call: TransitionCall) -> TransitionOutcome: ...

    def get_state(self) -> StateInfo: ...

    def subscribe(self) -> AsyncIterator[DeviceEventInfo]: ...


class _Servicer(occ_pb2_grpc.OccServicer):
    def __init__(self, handler: OccHandler) -> None:
        self._handler = handler

    async def Transition(self, request: Any, context: Any) -> Any:
        call = TransitionCall(
            event=request.event,
            arguments=dict(request.arguments),
            src_state=request.src_state,
            transition_id=request.transition_id,
        )
        outcome = await self._handler.transition(call)
        return occ_pb2.TransitionReply(state=outcome.state, ok=outcome.ok, message=outcome.message)

    async def GetState(self, request: Any, context: Any) -> Any:
        info = self._handler.get_state()
        return occ_pb2.StateReply(state=info.state, pid=info.pid)

    async def EventStream(self, request: Any, context: Any) -> AsyncIterator[Any]:
        async for event in self._handler.subscribe():
            yield occ_pb2.DeviceEvent(
                type=occ_pb2.DeviceEventType.Value(event.type),
                message=event.message,
                state=event.state,
            )


REFUSED = "missing or wrong OCC token: only the executor that started this task may control it"


async def _refuse(request: Any, context: Any) -> None:
    await context.abort(grpc.StatusCode.UNAUTHENTICATED, REFUSED)


class _RequireToken(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Lets a call reach its handler only when it carries the task's token."""

    def __init__(self, token: str) -> None:
        self._token = token

    async def intercept_service(
        self, continuation: Callable[[Any], Awaitable[Any]], details: Any
    ) -> Any:
        handler = await continuation(details)
        presented = dict(details.invocation_metadata or ()).get(TOKEN_METADATA_KEY)
        if handler is None or token_matches(self._token, presented):
            return handler
        log.warning("Refused an OCC call without the task's token", extra={"rpc": details.method})
        return _refusal(handler)


def _refusal(handler: Any) -> Any:
    """A handler of the same kind (unary or streaming) as `handler` that only refuses."""
    kinds = {
        (False, False): grpc.unary_unary_rpc_method_handler,
        (False, True): grpc.unary_stream_rpc_method_handler,
        (True, False): grpc.stream_unary_rpc_method_handler,
        (True, True): grpc.stream_stream_rpc_method_handler,
    }
    make = kinds[(bool(handler.request_streaming), bool(handler.response_streaming))]
    return make(_refuse, request_deserializer=handler.request_deserializer)


class OccServer:
    """Serves one task's OCC on 127.0.0.1:`port` (0 picks a free port; see `start`).

    With a `token`, only calls carrying it are served; without one, any local process may
    drive the task (a task started by hand for development).
    """

    def __init__(
        self, handler: OccHandler, *, port: int = 0, host: str = LOOPBACK, token: str | None = None
    ) -> None:
        self._handler = handler
        self._address = f"{host}:{port}"
        self._token = token
        self._server: Any = None

    async def start(self) -> int:
        """Bind and serve; returns the bound port. Raises OccError when the port is taken."""
        interceptors = [_RequireToken(self._token)] if self._token else []
        server = grpc.aio.server(options=_SERVER_OPTIONS, interceptors=interceptors)
        _add_servicer(_Servicer(self._handler), server)
        try:
            port = int(server.add_insecure_port(self._address))
        except RuntimeError as exc:
            raise OccError(self._address, f"cannot listen: {exc}") from exc
        if port == 0:
            raise OccError(self._address, "cannot listen (port in use?)")
        await server.start()
        self._server = server
        log.debug("OCC server listening", extra={"address": self._address, "port": port})
        return port

    async def stop(self, *, grace: float = 1.0) -> None:
        """Stop accepting calls; in-flight calls get `grace` seconds to finish."""
        if self._server is not None:
            server, self._server = self._server, None
            await server.stop(grace)

    async def wait_closed(self) -> None:
        if self._server is not None:
            await self._server.wait_for_termination()
