"""The task side of OCC: serves AliECS's occ_pb.Occ for one task's handler (the SDK's state
machine), over occ.proto's protobuf or OCClite's JSON.

The protobuf messages are written and read by executor.occ.wire, without the protobuf runtime:
every task process imports this module, so what it loads is paid once per task (the client
side, one executor per agent, keeps the generated code: executor.occ.grpc_adapter). OCClite's
JSON (a FairMQ device's `-P OCClite`) goes through protobuf's JSON mapping
(executor.occ.occlite_json), loaded only by a task that serves it.

Authentication (executor.occ.auth): a server given a token refuses every call without it with
UNAUTHENTICATED, in an interceptor, before any handler runs, so it holds for whatever service
the server carries.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc

from executor.errors import OccError
from executor.occ import wire
from executor.occ.auth import TOKEN_METADATA_KEY, token_matches
from executor.occ.messages import (
    LOOPBACK,
    DeviceEventInfo,
    OccHandler,
    StateInfo,
    TransitionCall,
    TransitionOutcome,
    Transport,
)

log = logging.getLogger(__name__)

SERVICE = "occ_pb.Occ"
# No SO_REUSEPORT: two tasks must never silently share one OCC port.
_SERVER_OPTIONS = [("grpc.so_reuseport", 0)]
REFUSED = "missing or wrong OCC token: only the executor that started this task may control it"


class _Servicer:
    """The four calls, on the plain values of executor.occ.messages (the codec reads and writes
    the bytes)."""

    def __init__(self, handler: OccHandler) -> None:
        self._handler = handler

    async def Transition(self, call: TransitionCall, context: Any) -> TransitionOutcome:
        outcome = await self._handler.transition(call)
        return dataclasses.replace(outcome, event=outcome.event or call.event)

    async def GetState(self, request: None, context: Any) -> StateInfo:
        return self._handler.get_state()

    async def EventStream(self, request: None, context: Any) -> AsyncIterator[DeviceEventInfo]:
        async for event in self._handler.subscribe():
            yield event

    async def StateStream(self, request: None, context: Any) -> AsyncIterator[str]:
        async for state in self._handler.watch_states():
            yield state


def _method_handlers(servicer: _Servicer, codec: Any) -> dict[str, Any]:
    """Each call's handler with the codec's reader of its request and writer of its reply
    (`codec`: executor.occ.wire or executor.occ.occlite_json, the same functions)."""
    unary: Any = grpc.unary_unary_rpc_method_handler
    stream: Any = grpc.unary_stream_rpc_method_handler
    return {
        "EventStream": stream(
            servicer.EventStream,
            request_deserializer=codec.empty_request,
            response_serializer=codec.event_stream_reply,
        ),
        "StateStream": stream(
            servicer.StateStream,
            request_deserializer=codec.empty_request,
            response_serializer=codec.state_stream_reply,
        ),
        "GetState": unary(
            servicer.GetState,
            request_deserializer=codec.empty_request,
            response_serializer=codec.get_state_reply,
        ),
        "Transition": unary(
            servicer.Transition,
            request_deserializer=codec.transition_request,
            response_serializer=codec.transition_reply,
        ),
    }


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


class _BarePaths(grpc.GenericRpcHandler):  # type: ignore[misc]
    """The calls at OCClite's bare method paths (`GetState`, not `/occ_pb.Occ/GetState`)."""

    def __init__(self, methods: dict[str, Any]) -> None:
        self._methods = methods

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

    def _add_service(self, server: Any) -> None:
        servicer = _Servicer(self._handler)
        if self._transport == "json":
            from executor.occ import occlite_json  # protobuf: only for a task serving OCClite

            server.add_generic_rpc_handlers((_BarePaths(_method_handlers(servicer, occlite_json)),))
            return
        methods = _method_handlers(servicer, wire)
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, methods),))
        server.add_registered_method_handlers(SERVICE, methods)

    async def start(self) -> int:
        """Bind and serve; returns the bound port. Raises OccError when the port is taken."""
        interceptors = [_RequireToken(self._token)] if self._token else []
        server = grpc.aio.server(options=_SERVER_OPTIONS, interceptors=interceptors)
        self._add_service(server)
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
