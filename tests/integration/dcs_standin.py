"""A stand-in DCS Configurator (from AliECS's dcs.proto) that records what it is asked."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc

from controller.integration.dcspb import dcs_pb2 as pb
from controller.integration.dcspb import dcs_pb2_grpc


class StandInDcs(dcs_pb2_grpc.ConfiguratorServicer):  # type: ignore[misc]
    """Answers every detector of a request with RUN_OK, or `state` for those in `fail`."""

    def __init__(self, *, fail: frozenset[str] = frozenset()) -> None:
        self.requests: list[tuple[str, Any]] = []
        self.fail = fail

    def _answer(self, method: str, request: Any) -> Iterator[Any]:
        self.requests.append((method, request))
        for op in request.detectors:
            name = pb.Detector.Name(op.detector)
            yield pb.RunEvent(
                eventtype=pb.SOR_EVENT, detector=op.detector, state=pb.SOR_PROGRESSING
            )
            state = pb.SOR_FAILURE if name in self.fail else pb.RUN_OK
            yield pb.RunEvent(eventtype=pb.SOR_EVENT, detector=op.detector, state=state)

    def PrepareForRun(self, request: Any, context: Any) -> Iterator[Any]:
        return self._answer("PrepareForRun", request)

    def StartOfRun(self, request: Any, context: Any) -> Iterator[Any]:
        return self._answer("StartOfRun", request)

    def EndOfRun(self, request: Any, context: Any) -> Iterator[Any]:
        return self._answer("EndOfRun", request)


def serve(servicer: StandInDcs) -> tuple[grpc.Server, str]:
    """Start `servicer` on 127.0.0.1 (a free port); the server and its host:port."""
    from concurrent.futures import ThreadPoolExecutor

    server = grpc.server(ThreadPoolExecutor(4))
    dcs_pb2_grpc.add_ConfiguratorServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return server, f"127.0.0.1:{port}"
