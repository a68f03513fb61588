"""How the executor reaches one task's OCC: control port hand-over, startup polling, wire steps.

The port is handed over as AliECS does (`OCC_CONTROL_PORT` in the environment; a `fairmq`
device also gets `--control-port N`), startup polls GetState until the task is in STANDBY in its
control mode's terms, the transport is AliECS's choice (`control_transport`: OCClite's JSON
for a command line with `-P OCClite`), and `send_step` is what a transitioner
(executor.occ.transitioner) calls to put one Transition on the wire (executor.occ.grpc_adapter).
"""

from __future__ import annotations

import asyncio
import dataclasses
import socket

from executor.errors import OccUnavailableError
from executor.launch import LaunchSpec
from executor.occ.grpc_adapter import OccClient, TransitionCall, Transport
from executor.occ.occlite import uses_occlite
from executor.occ.states import OccState
from executor.occ.transitioner import Step, StepReply, Transitioner
from executor.supervisor import CommandSpec, build_argv

CONTROL_PORT_ENV = "OCC_CONTROL_PORT"
"""How a direct or fairmq task learns its control port (fairmq also gets `--control-port`)."""
STARTUP_POLL = 0.1
"""Seconds between GetState polls while a task is not yet in STANDBY (AliECS polls too)."""


def free_loopback_port() -> int:
    """A port free right now on 127.0.0.1 (small race; Mesos-allocated ports avoid it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def loopback_port_busy(port: int) -> bool:
    """True when something listens on 127.0.0.1:`port` (or the wildcard) right now.

    SO_REUSEADDR so that a port left in TIME_WAIT by an earlier task does not count as busy.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def control_transport(spec: LaunchSpec) -> Transport:
    """OCClite's JSON when the command line loads the OCClite plugin (`-P OCClite`), as AliECS's
    executor chooses; occ.proto's protobuf otherwise."""
    return "json" if uses_occlite(build_argv(spec.command)) else "protobuf"


def with_control_port(spec: LaunchSpec, port: int) -> CommandSpec:
    """A fairmq device also gets `--control-port N` on its command line, as AliECS adds it."""
    if spec.control != "fairmq":
        return spec.command
    arguments = (*spec.command.arguments, "--control-port", str(port))
    return dataclasses.replace(spec.command, arguments=arguments)


async def send_step(client: OccClient | None, step: Step, *, deadline: float) -> StepReply:
    if client is None:
        raise OccUnavailableError("task", "no OCC channel to the task")
    outcome = await client.transition(
        TransitionCall(event=step.event, arguments=step.arguments, src_state=step.src),
        deadline=deadline,
    )
    return StepReply(
        state=outcome.state, ok=outcome.ok, trigger=outcome.trigger, event=outcome.event
    )


async def poll_for_standby(
    client: OccClient, transitioner: Transitioner, *, deadline: float
) -> str:
    """Poll GetState until the task is in STANDBY (in its mode's terms), ERROR or DONE, as
    AliECS's executor does; returns that o2 state. Raises OccError when `deadline` runs out."""
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline
    while True:
        left = max(end - loop.time(), 0.001)
        info = await client.get_state(deadline=left, wait_for_ready=True)
        state = transitioner.from_device_state(info.state)
        if state in (OccState.STANDBY, OccState.ERROR, OccState.DONE):
            return state
        if loop.time() + STARTUP_POLL >= end:
            return info.state or state
        await asyncio.sleep(STARTUP_POLL)
