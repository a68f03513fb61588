"""The OCC gRPC adapter: AliECS's occ_pb.Occ, async client (executor side) and server (SDK side).

The only module that imports grpc. The wire protocol is AliECS's official occ.proto
(executor.occ.aliecs), so the executor drives real OCClib tasks and FairMQ devices, and o2 tasks
can be driven by AliECS. Everything else speaks in the plain dataclasses below, so
the executor's logic and the SDK's state machine never see protobuf or grpc types.

Authentication (executor.occ.auth): a client given a token sends it as metadata on every call;
a server given a token refuses every call without it with UNAUTHENTICATED, in an interceptor,
before any handler runs, so it holds for whatever service the server carries.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import grpc

from executor.errors import OccError, OccTimeoutError, OccUnavailableError
from executor.occ.aliecs import occ_pb2, occ_pb2_grpc
from executor.occ.auth import TOKEN_METADATA_KEY, token_matches
from executor.occ.occlite import JsonStub, decoder, encode
from executor.occ.transitioner import Trigger

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


class OccHandler(Protocol):
    """What a task implements to be served over occ_pb.Occ (the SDK's state machine)."""

    async def transition(self, call: TransitionCall) -> TransitionOutcome: ...

    def get_state(self) -> StateInfo: ...

    def subscribe(self) -> AsyncIterator[DeviceEventInfo]: ...

    def watch_states(self) -> AsyncIterator[str]: ...


class _Servicer(occ_pb2_grpc.OccServicer):
    def __init__(self, handler: OccHandler) -> None:
        self._handler = handler

    async def Transition(self, request: Any, context: Any) -> Any:
        call = TransitionCall(
            event=request.transitionEvent,
            arguments={entry.key: entry.value for entry in request.arguments},
            src_state=request.srcState,
        )
        outcome = await self._handler.transition(call)
        return occ_pb2.TransitionReply(
            trigger=occ_pb2.StateChangeTrigger.Value(outcome.trigger),
            state=outcome.state,
            transitionEvent=outcome.event or call.event,
            ok=outcome.ok,
        )

    async def GetState(self, request: Any, context: Any) -> Any:
        info = self._handler.get_state()
        return occ_pb2.GetStateReply(state=info.state, pid=info.pid)

    async def EventStream(self, request: Any, context: Any) -> AsyncIterator[Any]:
        async for event in self._handler.subscribe():
            kind = occ_pb2.DeviceEventType.Value(event.type)
            yield occ_pb2.EventStreamReply(event=occ_pb2.DeviceEvent(type=kind))

    async def StateStream(self, request: Any, context: Any) -> AsyncIterator[Any]:
        async for state in self._handler.watch_states():
            yield occ_pb2.StateStreamReply(type=occ_pb2.STATE_STABLE, state=state)


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


class _JsonService(grpc.GenericRpcHandler):  # type: ignore[misc]
    """The servicer's calls at OCClite's bare method paths (`GetState`, not
    `/occ_pb.Occ/GetState`), each message the JSON object of its occ.proto message."""

    def __init__(self, servicer: _Servicer) -> None:
        unary: Any = grpc.unary_unary_rpc_method_handler
        stream: Any = grpc.unary_stream_rpc_method_handler
        self._methods = {
            "GetState": unary(servicer.GetState, decoder(occ_pb2.GetStateRequest), encode),
            "Transition": unary(servicer.Transition, decoder(occ_pb2.TransitionRequest), encode),
            "EventStream": stream(
                servicer.EventStream, decoder(occ_pb2.EventStreamRequest), encode
            ),
            "StateStream": stream(
                servicer.StateStream, decoder(occ_pb2.StateStreamRequest), encode
            ),
        }

    def service(self, details: Any) -> Any:
        return self._methods.get(details.method)


class OccServer:
    """Serves one task's OCC on 127.0.0.1:`port` (0 picks a free port; see `start`).

    With a `token`, only calls carrying it are served; without one, any local process may
    drive the task (a task started by hand for development). `transport="json"` serves
    OCClite's JSON instead of occ.proto's protobuf, as a FairMQ device with the OCClite plugin
    does (executor.occ.occlite); a server speaks one of the two, as the plugins do.
    """

    def __init__(
        self,
        handler: OccHandler,
        *,
        port: int = 0,
        host: str = LOOPBACK,
        token: str | None = None,
        transport: Transport = "protobuf",
    ) -> None:
        self._handler = handler
        self._address = f"{host}:{port}"
        self._token = token
        self._transport = transport
        self._server: Any = None

    async def start(self) -> int:
        """Bind and serve; returns the bound port. Raises OccError when the port is taken."""
        interceptors = [_RequireToken(self._token)] if self._token else []
        server = grpc.aio.server(options=_SERVER_OPTIONS, interceptors=interceptors)
        if self._transport == "json":
            server.add_generic_rpc_handlers((_JsonService(_Servicer(self._handler)),))
        else:
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
