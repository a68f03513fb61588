"""The o2 task SDK: a task program subclasses `OccTask`, and `run()` serves it over OCC.

The task serves AliECS's `occ_pb.Occ` as an OCClib (`direct` control mode) task does, so the
o2 executor and AliECS's both drive it. The SDK enforces the OCC state machine
(executor.occ.states): an illegal event, or a `srcState` that is not the task's state, is
answered with ok=false and the state unchanged; a hook that raises puts the task in ERROR and
sends a TASK_INTERNAL_ERROR event. Transitions run one at a time (the executor answers repeated
transition ids itself). Arguments arrive as ConfigEntry pairs: the properties at CONFIGURE,
`runNumber` and the other run values at START.

Port handshake with the executor: the executor allocates the task's control port (a Mesos
port from the offer) and passes it as `OCC_CONTROL_PORT`, as AliECS does (`--control-port` of
o2-sample-task, and the deprecated `O2_OCC_PORT`, work too). When none is set, or the value
is 0, the task binds a free port; if
`O2_OCC_PORT_FILE` is set it writes the bound port there (atomically), which is how a task
started by hand tells its port to a tool. SIGTERM and SIGINT end the task gracefully: on_stop
when RUNNING, then on_exit, then the server closes and the process exits 0.

OCClite: a process whose own command line loads the OCClite plugin (`-P OCClite`, which AliECS
and o2's controller append to a `fairmq` task's arguments) serves OCClite's JSON transport
(executor.occ.occlite) as a FairMQ device (executor.fairmq_device), since that is what the
executor, seeing the same argument, expects to drive.

Authentication (executor.occ.auth): the executor passes a per-launch secret as `O2_OCC_TOKEN`;
the task then serves only calls carrying it, and removes it from its own environment so its
child processes do not inherit it. Without the variable (a task started by hand) the task logs
one warning and accepts calls from any local process: that is for development only, and the
executor always sets it.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from executor.fairmq_device import FairMQDevice
from executor.occ.auth import TOKEN_ENV
from executor.occ.messages import (
    DeviceEventInfo,
    OccHandler,
    StateInfo,
    TransitionCall,
    TransitionOutcome,
    Transport,
)
from executor.occ.occlite import uses_occlite
from executor.occ.server import OccServer
from executor.occ.states import OccEvent, OccState, legal_events, next_state, parse_event

if TYPE_CHECKING:
    from crds.fairmq import FmqChannel

log = logging.getLogger(__name__)

PORT_ENV = "OCC_CONTROL_PORT"
PORT_ENV_DEPRECATED = "O2_OCC_PORT"
PORT_FILE_ENV = "O2_OCC_PORT_FILE"

HookResult = Awaitable[None] | None


class OccTask:
    """Base of a controllable task. Override the hooks you need; sync or async both work."""

    machine: OccMachine | None = None

    def on_configure(self, properties: Mapping[str, str]) -> HookResult:
        """CONFIGURE: `properties` are the TaskClass properties resolved for this task."""
        return None

    def on_start(self, run_number: int | None) -> HookResult:
        """START: `run_number` comes from the `runNumber` (or `run_number`) argument; all START
        arguments are in `self.machine.last_arguments`."""
        return None

    def on_stop(self) -> HookResult:
        return None

    def on_reset(self) -> HookResult:
        return None

    def on_recover(self) -> HookResult:
        return None

    def on_exit(self) -> HookResult:
        """EXIT or a termination signal: release resources; the process ends after this."""
        return None

    @property
    def state(self) -> OccState:
        return self.machine.state if self.machine else OccState.STANDBY

    def end_of_stream(self, message: str = "") -> None:
        """Tell the executor this task has no more data (AliECS END_OF_STREAM)."""
        if self.machine:
            self.machine.emit("END_OF_STREAM", message)

    def fail(self, message: str) -> None:
        """A spontaneous internal error: move to ERROR and send TASK_INTERNAL_ERROR."""
        if self.machine:
            self.machine.fail(message)


def _run_number(arguments: Mapping[str, str]) -> int | None:
    raw = arguments.get("runNumber") or arguments.get("run_number")
    try:
        return int(raw) if raw else None
    except ValueError:
        return None


class OccMachine:
    """The OCC handler around one OccTask: state, serialized transitions, event fan-out."""

    def __init__(self, task: OccTask) -> None:
        self.task = task
        self.state = OccState.STANDBY
        self.last_arguments: Mapping[str, str] = {}
        self.finished = asyncio.Event()
        self.subscribed = asyncio.Event()
        """Set once an event stream is open (the executor listens)."""
        self._lock = asyncio.Lock()
        self._subscribers: list[asyncio.Queue[DeviceEventInfo | None]] = []
        self._watchers: list[asyncio.Queue[str | None]] = []
        task.machine = self

    def get_state(self) -> StateInfo:
        return StateInfo(state=self.state.value, pid=os.getpid())

    async def subscribe(self) -> AsyncIterator[DeviceEventInfo]:
        if self.finished.is_set():  # a stream opened after EXIT would hold the server open
            return
        queue: asyncio.Queue[DeviceEventInfo | None] = asyncio.Queue()
        self._subscribers.append(queue)
        self.subscribed.set()
        try:
            while (event := await queue.get()) is not None:
                yield event
        finally:
            self._subscribers.remove(queue)

    async def watch_states(self) -> AsyncIterator[str]:
        """StateStream: the current state, then every state change until DONE."""
        queue: asyncio.Queue[str | None] = asyncio.Queue()
        queue.put_nowait(self.state.value)
        self._watchers.append(queue)
        try:
            while (state := await queue.get()) is not None:
                yield state
        finally:
            self._watchers.remove(queue)

    def emit(self, event_type: str, message: str = "") -> None:
        """Send a device event; occ_pb events carry no text, so `message` is only logged."""
        log.info("Device event", extra={"event": event_type, "detail": message})
        event = DeviceEventInfo(type=event_type)
        for queue in self._subscribers:
            queue.put_nowait(event)

    def _set_state(self, state: OccState) -> None:
        self.state = state
        for queue in self._watchers:
            queue.put_nowait(state.value)

    def fail(self, message: str) -> None:
        if self.state is OccState.DONE:
            return
        self._set_state(OccState.ERROR)
        log.error("Task failed", extra={"reason": message})
        self.emit("TASK_INTERNAL_ERROR", message)

    async def transition(self, call: TransitionCall) -> TransitionOutcome:
        async with self._lock:
            return await self._run(call)

    async def _run(self, call: TransitionCall) -> TransitionOutcome:
        event = parse_event(call.event)
        if call.src_state and call.src_state.upper() != self.state.value:
            return self._refuse(call, f"task is {self.state.value}, not {call.src_state.upper()}")
        target = next_state(self.state, event) if event else None
        if event is None or target is None:
            legal = ", ".join(legal_events(self.state)) or "none"
            return self._refuse(
                call, f"{call.event} is not allowed in {self.state.value} (legal: {legal})"
            )
        self.last_arguments = dict(call.arguments)
        try:
            await self._hook(event, call.arguments)
        except Exception as exc:
            self.fail(f"{event.value} failed: {exc!r}")
            return TransitionOutcome(state=self.state.value, ok=False, event=call.event)
        self._set_state(target)
        if target is OccState.DONE:
            self._finish()
        return TransitionOutcome(state=self.state.value, ok=True, event=call.event)

    def _refuse(self, call: TransitionCall, message: str) -> TransitionOutcome:
        """ok=false, state unchanged; the reason is only logged (TransitionReply has no text)."""
        log.warning("Refused transition", extra={"event": call.event, "reason": message})
        return TransitionOutcome(state=self.state.value, ok=False, event=call.event)

    async def _hook(self, event: OccEvent, arguments: Mapping[str, str]) -> None:
        task = self.task
        calls = {
            OccEvent.CONFIGURE: lambda: task.on_configure(dict(arguments)),
            OccEvent.START: lambda: task.on_start(_run_number(arguments)),
            OccEvent.STOP: task.on_stop,
            OccEvent.RESET: task.on_reset,
            OccEvent.RECOVER: task.on_recover,
            OccEvent.EXIT: task.on_exit,
        }
        hook = calls.get(event)
        if hook is not None:
            result = hook()
            if inspect.isawaitable(result):
                await result

    async def shutdown(self) -> None:
        """Graceful end on a signal: on_stop when RUNNING, then on_exit, then DONE."""
        async with self._lock:
            if self.state is OccState.DONE:
                return
            with contextlib.suppress(Exception):
                if self.state is OccState.RUNNING:
                    await self._hook(OccEvent.STOP, {})
                await self._hook(OccEvent.EXIT, {})
            self._set_state(OccState.DONE)
            self._finish()

    def _finish(self) -> None:
        for queue in self._subscribers:
            queue.put_nowait(None)
        for watcher in self._watchers:
            watcher.put_nowait(None)
        self.finished.set()


def channels(properties: Mapping[str, str]) -> list[FmqChannel]:
    """The FairMQ channels pushed at CONFIGURE (`chans.<name>.0.address`, `.method`, `.type`,
    `.transport`, buffer sizes, `.rateLogging`), for a task that opens them itself."""
    from crds.fairmq import parse_channels  # only a task with channels pays for it (~0.3 MB)

    return parse_channels(properties)


def resolve_port(explicit: int | None = None) -> int:
    """The port to serve on: explicit, else OCC_CONTROL_PORT, else O2_OCC_PORT, else 0 (free)."""
    if explicit is not None:
        return explicit
    raw = os.environ.get(PORT_ENV) or os.environ.get(PORT_ENV_DEPRECATED) or "0"
    return int(raw)


def take_token() -> str | None:
    """The OCC token from the environment, removed from it (children must not inherit it)."""
    token = os.environ.pop(TOKEN_ENV, "") or None
    if token is None:
        log.warning(
            "No OCC token: any local process may control this task (fine for a task started "
            "by hand; the o2 executor always sets one)",
            extra={"variable": TOKEN_ENV},
        )
    return token


def _write_port_file(port: int) -> None:
    path = os.environ.get(PORT_FILE_ENV)
    if not path:
        return
    target = Path(path)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(f"{port}\n")
    tmp.replace(target)


async def serve(
    task: OccTask,
    *,
    port: int | None = None,
    handle_signals: bool = True,
    on_ready: Callable[[int], None] | None = None,
    device: Callable[[OccMachine], OccHandler] | None = None,
    transport: Transport = "protobuf",
) -> int:
    """Serve `task` over OCC until EXIT or a termination signal; returns the exit code.

    `on_ready(port)` is called once the server listens (and the port file is written).
    `device` wraps the task's machine in another face (executor.fairmq_device.FairMQDevice).
    `transport`: occ.proto's protobuf, or OCClite's JSON (`occlite_setup`).
    """
    machine = OccMachine(task)
    handler: OccHandler = device(machine) if device is not None else machine
    server = OccServer(handler, port=resolve_port(port), token=take_token(), transport=transport)
    bound = await server.start()
    _write_port_file(bound)
    log.info("OCC ready", extra={"port": bound, "pid": os.getpid()})
    if on_ready is not None:
        on_ready(bound)
    loop = asyncio.get_running_loop()
    shutdowns: set[asyncio.Task[None]] = set()
    if handle_signals:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(
                sig, lambda: shutdowns.add(loop.create_task(machine.shutdown()))
            )
    try:
        await machine.finished.wait()
    finally:
        await server.stop(grace=1.0)
        if handle_signals:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
    return 0


def occlite_setup(
    argv: Sequence[str], device: Callable[[OccMachine], OccHandler] | None
) -> tuple[Transport, Callable[[OccMachine], OccHandler] | None]:
    """The transport and device face a process with these arguments serves: a command line
    that loads OCClite (`-P OCClite`, as the executor tests it) is a FairMQ device's, so it
    gets OCClite's JSON and FairMQ states (unless `device` gives another face)."""
    if not uses_occlite(argv):
        return "protobuf", device
    return "json", device if device is not None else FairMQDevice


def run(
    task: OccTask,
    *,
    port: int | None = None,
    device: Callable[[OccMachine], OccHandler] | None = None,
    argv: Sequence[str] | None = None,
) -> int:
    """Blocking entry point for a task program's main(). `argv`: the process's arguments
    (default `sys.argv[1:]`); with `-P OCClite` the task serves OCClite (`occlite_setup`)."""
    transport, face = occlite_setup(sys.argv[1:] if argv is None else argv, device)
    return asyncio.run(serve(task, port=port, device=face, transport=transport))
