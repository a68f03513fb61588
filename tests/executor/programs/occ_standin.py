"""A stand-in for a real ALICE process, built only from AliECS's occ.proto stubs (no o2 code).

`--mode direct` behaves as an OCClib task (OCC states, port from OCC_CONTROL_PORT);
`--mode fairmq` as a FairMQ device behind its OCC plugin (FairMQ states and events, port from
`--control-port`). Every call it receives is appended as one JSON line to $STANDIN_LOG, so a
test can assert exactly what the executor sent. It exits once it reaches DONE / EXITING.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from typing import Any

import grpc

from executor.occ.aliecs import occ_pb2, occ_pb2_grpc

MOVES = {
    "direct": {
        ("STANDBY", "CONFIGURE"): "CONFIGURED",
        ("CONFIGURED", "START"): "RUNNING",
        ("RUNNING", "STOP"): "CONFIGURED",
        ("CONFIGURED", "RESET"): "STANDBY",
        ("STANDBY", "EXIT"): "DONE",
        ("CONFIGURED", "EXIT"): "DONE",
        ("ERROR", "EXIT"): "DONE",
        ("ERROR", "RECOVER"): "STANDBY",
    },
    "fairmq": {
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
    },
}
INITIAL = {"direct": "STANDBY", "fairmq": "IDLE"}
FINAL = {"direct": "DONE", "fairmq": "EXITING"}


def record(entry: dict[str, Any]) -> None:
    with open(os.environ["STANDIN_LOG"], "a") as log:
        log.write(json.dumps(entry) + "\n")


class StandIn(occ_pb2_grpc.OccServicer):
    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.state = INITIAL[mode]
        self.done = asyncio.Event()

    async def GetState(self, request: Any, context: Any) -> Any:
        return occ_pb2.GetStateReply(state=self.state, pid=os.getpid())

    async def Transition(self, request: Any, context: Any) -> Any:
        arguments = {entry.key: entry.value for entry in request.arguments}
        event = request.transitionEvent
        record({"event": event, "src": request.srcState, "arguments": arguments})
        target = MOVES[self.mode].get((self.state, event))
        ok = target is not None and request.srcState == self.state
        if ok:
            self.state = target
        if self.state == FINAL[self.mode]:
            self.done.set()
        return occ_pb2.TransitionReply(
            trigger=occ_pb2.EXECUTOR, state=self.state, transitionEvent=event, ok=ok
        )

    async def EventStream(self, request: Any, context: Any) -> Any:
        record({"stream": "events"})
        await self.done.wait()
        return
        yield  # an async generator that sends nothing until the end


async def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=["direct", "fairmq"], required=True)
    parser.add_argument("--control-port", type=int, default=None)
    args, _ = parser.parse_known_args()
    env_port = os.environ.get("OCC_CONTROL_PORT")
    port = args.control_port if args.mode == "fairmq" else int(env_port or 0)
    record({"start": True, "env_port": env_port, "arg_port": args.control_port, "port": port})
    standin = StandIn(args.mode)
    server = grpc.aio.server()
    occ_pb2_grpc.add_OccServicer_to_server(standin, server)
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    await standin.done.wait()
    await server.stop(0.5)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
