"""An o2 SDK task served as a FairMQ device behind its OCC plugin (`control: fairmq`).

AliECS drives a FairMQ device in FairMQ's own states and events (executor.occ.transitioner);
this adapter lets an `OccTask` be driven that way, so the sample task can stand in for
StfBuilder/StfSender. The device state moves through FairMQ's chain while the task's own OCC
machine moves at the points that matter:

    IDLE -INIT DEVICE-> INITIALIZING DEVICE -COMPLETE INIT-> INITIALIZED -BIND-> BOUND
    -CONNECT-> DEVICE READY -INIT TASK-> READY -RUN-> RUNNING -STOP-> READY
    READY -RESET TASK-> DEVICE READY -RESET DEVICE-> IDLE;  IDLE -END-> EXITING

CONFIGURE (with the properties, which AliECS sends with INIT DEVICE) runs at INIT TASK, START at
RUN, STOP at STOP, RESET at RESET DEVICE and EXIT at END. A task that fails reports ERROR.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING

from executor.occ.messages import DeviceEventInfo, StateInfo, TransitionCall, TransitionOutcome
from executor.occ.states import OccState

if TYPE_CHECKING:  # the SDK serves this face (executor.sdk imports this module)
    from executor.sdk import OccMachine

MOVES: Mapping[tuple[str, str], str] = {
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
TASK_EVENTS: Mapping[str, str] = {
    "INIT TASK": "CONFIGURE",
    "RUN": "START",
    "STOP": "STOP",
    "RESET DEVICE": "RESET",
    "END": "EXIT",
}
"""The FairMQ events at which the task's own OCC machine makes its move."""
DEVICE_STATES: Mapping[str, str] = {
    "STANDBY": "IDLE",
    "CONFIGURED": "READY",
    "RUNNING": "RUNNING",
    "ERROR": "ERROR",
    "DONE": "EXITING",
}


class FairMQDevice:
    """The OccHandler of a FairMQ-mode task: FairMQ states outside, the OccMachine inside."""

    def __init__(self, machine: OccMachine) -> None:
        self.machine = machine
        self.state = "IDLE"
        self._properties: Mapping[str, str] = {}

    def get_state(self) -> StateInfo:
        info = self.machine.get_state()
        state = "ERROR" if self.machine.state is OccState.ERROR else self.state
        return StateInfo(state=state, pid=info.pid)

    async def transition(self, call: TransitionCall) -> TransitionOutcome:
        current = self.get_state().state
        target = MOVES.get((current, call.event))
        if target is None or (call.src_state and call.src_state != current):
            return TransitionOutcome(state=current, ok=False, event=call.event)
        if call.event == "INIT DEVICE":
            self._properties = dict(call.arguments)
        task_event = TASK_EVENTS.get(call.event)
        if task_event is not None:
            arguments = self._properties if task_event == "CONFIGURE" else call.arguments
            inner = await self.machine.transition(
                TransitionCall(event=task_event, arguments=arguments)
            )
            if not inner.ok:
                return TransitionOutcome(state=self.get_state().state, ok=False, event=call.event)
        self.state = target
        return TransitionOutcome(state=target, ok=True, event=call.event)

    def subscribe(self) -> AsyncIterator[DeviceEventInfo]:
        return self.machine.subscribe()

    async def watch_states(self) -> AsyncIterator[str]:
        async for state in self.machine.watch_states():
            yield DEVICE_STATES.get(state, state)
