"""The DCS adapter: the one module that talks gRPC to DCS's Configurator service. I/O.

One call per operation on a fresh insecure channel (as AliECS's client to its DCS endpoint),
bounded by the hook's timeout: PrepareForRun, StartOfRun, EndOfRun each stream RunEvents until
DCS closes the stream.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc

from controller.integration.dcspb import dcs_pb2_grpc
from crds.errors import PluginError


def stream_events(endpoint: str, method: str, request: Any, *, timeout: float) -> list[Any]:
    """Every RunEvent DCS sends for `method` (PrepareForRun, StartOfRun or EndOfRun) until it
    closes the stream; PluginError when the call fails or outlives `timeout`, with the events
    received so far in the message's count."""
    events: list[Any] = []
    with grpc.insecure_channel(endpoint) as channel:
        stub = dcs_pb2_grpc.ConfiguratorStub(channel)  # type: ignore[no-untyped-call]
        call: Callable[..., Any] = getattr(stub, method)
        try:
            for event in call(request, timeout=timeout):
                events.append(event)
        except grpc.RpcError as exc:
            code = exc.code() if isinstance(exc, grpc.Call) else None
            if code == grpc.StatusCode.DEADLINE_EXCEEDED:
                raise PluginError(
                    f"DCS {method} timed out after {timeout:g}s ({len(events)} event(s) received)"
                ) from exc
            detail = exc.details() if isinstance(exc, grpc.Call) else str(exc)
            raise PluginError(f"DCS {method} call to {endpoint} failed: {code}: {detail}") from exc
    return events
