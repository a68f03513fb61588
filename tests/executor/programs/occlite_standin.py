"""A stand-in for a FairMQ device with AliECS's OCClite plugin (no o2 code, no protobuf).

It serves what occ/plugin/OccLiteServer.cxx serves: gRPC methods at the bare paths `GetState`,
`Transition` and `EventStream`, each message a JSON object written as the plugin's litestructs
write it (`{"state", "pid"}`, `{"trigger", "state", "transitionEvent", "ok"}`,
`{"event": {"type"}}`), FairMQ states and events, the port from `--control-port`. A call in
any other encoding or at any other path fails. Every request body it receives is appended as
one JSON line to $STANDIN_LOG. It exits once it reaches EXITING.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc

MOVES = {
    ("IDLE", "INIT DEVICE"): "INITIALIZING DEVICE",
    ("INITIALIZING DEVICE", "COMPLETE INIT"): "INITIALIZED",
    ("INITIALIZED", "BIND"): "BOUND",
    ("BOUND", "CONNECT"): "DEVICE READY",
    ("DEVICE READY", "INIT TASK"): "READY",
    ("READY", "RUN"): "RUNNING",
    ("RUNNING", "STOP"): "READY",
    ("READY", "RESET TASK"): "DEVICE READY",
    ("DEVICE READY", "RESET DEVICE"): "IDLE",
    ("IDLE", "END"): "EXITING",
}


def record(entry: dict[str, Any]) -> None:
    with open(os.environ["STANDIN_LOG"], "a") as log:
        log.write(json.dumps(entry) + "\n")


def dump(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode()


class Device:
    def __init__(self) -> None:
        self.state = "IDLE"
        self.done = asyncio.Event()

    async def get_state(self, request: dict[str, Any], context: Any) -> dict[str, Any]:
        record({"method": "GetState", "body": request})
        return {"state": self.state, "pid": os.getpid()}

    async def transition(self, request: dict[str, Any], context: Any) -> dict[str, Any]:
        record({"method": "Transition", "body": request})
        event = request["transitionEvent"]
        target = MOVES.get((self.state, event))
        ok = target is not None and request["srcState"] == self.state
        if ok and target is not None:
            self.state = target
        if self.state == "EXITING":
            self.done.set()
        return {"trigger": 0, "state": self.state, "transitionEvent": event, "ok": ok}

    async def event_stream(
        self, request: dict[str, Any], context: Any
    ) -> AsyncIterator[dict[str, Any]]:
        record({"method": "EventStream", "body": request})
        await self.done.wait()
        yield {"event": {"type": 0}}  # NULL_DEVICE_EVENT, as the plugin ends its stream


class Handlers(grpc.GenericRpcHandler):  # type: ignore[misc]
    def __init__(self, device: Device) -> None:
        unary: Callable[..., Any] = grpc.unary_unary_rpc_method_handler
        self.methods = {
            "GetState": unary(device.get_state, json.loads, dump),
            "Transition": unary(device.transition, json.loads, dump),
            "EventStream": grpc.unary_stream_rpc_method_handler(
                device.event_stream, json.loads, dump
            ),
        }

    def service(self, details: Any) -> Any:
        return self.methods.get(details.method)


async def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("-P", dest="plugin", required=True)
    parser.add_argument("--control-port", type=int, required=True)
    args, _ = parser.parse_known_args()
    record({"start": True, "plugin": args.plugin, "port": args.control_port})
    device = Device()
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((Handlers(device),))
    server.add_insecure_port(f"127.0.0.1:{args.control_port}")
    await server.start()
    await device.done.wait()
    await server.stop(0.5)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
