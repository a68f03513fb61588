"""Control modes as AliECS's executor drives them: one o2 event -> the task's OCC calls. No grpc.

A task serves AliECS's `occ_pb.Occ`; what the executor sends depends on the TaskClass's control
mode, exactly as AliECS's executor transitioners do:

- `direct` (OCClib tasks such as readout): the task speaks the o2 vocabulary itself
  (STANDBY/CONFIGURED/RUNNING/ERROR/DONE; CONFIGURE/START/STOP/RESET/EXIT/GO_ERROR/RECOVER):
  one call per event.
- `fairmq` (FairMQ devices through the OCC plugin): the device speaks FairMQ states (IDLE,
  READY, RUNNING, ...) and events; CONFIGURE is INIT DEVICE -> COMPLETE INIT -> BIND -> CONNECT
  -> INIT TASK, RESET is RESET TASK -> RESET DEVICE, START is RUN, STOP is STOP, EXIT is END
  (after a RESET when CONFIGURED). A device stuck in an intermediate state is rolled back.
  GO_ERROR and RECOVER are not FairMQ transitions (AliECS does not implement them either).

Every call names its source and expected destination state; a reply counts as success only when
it says ok, was triggered by the executor, echoes the event and reached that destination.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from executor.occ.states import OccEvent, OccState, legal_events, next_state, parse_event

Trigger = Literal["EXECUTOR", "DEVICE_INTENTIONAL", "DEVICE_ERROR"]


@dataclass(frozen=True)
class Step:
    """One OCC Transition call: event, source and expected destination in the task's terms."""

    event: str
    src: str
    dst: str
    arguments: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StepReply:
    """The task's TransitionReply."""

    state: str
    ok: bool
    trigger: Trigger = "EXECUTOR"
    event: str = ""

    def reached(self, step: Step) -> bool:
        """AliECS's success test: ok, executor-triggered, same event, expected state."""
        return (
            self.ok
            and self.trigger == "EXECUTOR"
            and self.event == step.event
            and self.state == step.dst
        )


DoStep = Callable[[Step], Awaitable[StepReply]]
"""Sends one Transition to the task; raises executor.errors.OccError when the call fails."""


@dataclass(frozen=True)
class Commit:
    """The outcome of one o2 event: the o2 state reached ("" when unknown) and why it failed."""

    state: str
    ok: bool
    message: str = ""


def _failure(step: Step, reply: StepReply) -> str:
    return (
        f"transition unsuccessful: {step.event} from {step.src} expected {step.dst}, task "
        f"answered ok={reply.ok} trigger={reply.trigger} event={reply.event or '-'} "
        f"state={reply.state or '-'}"
    )


def destination(event: str, src: str) -> tuple[str, str] | None:
    """(canonical event, o2 destination state) of `event` from `src`; None when illegal."""
    parsed_event = parse_event(event)
    try:
        state = OccState(src)
    except ValueError:
        return None
    target = next_state(state, parsed_event) if parsed_event else None
    if parsed_event is None or target is None:
        return None
    return parsed_event.value, target.value


def illegal(event: str, src: str) -> Commit:
    try:
        legal = ", ".join(legal_events(OccState(src))) or "none"
    except ValueError:
        legal = "unknown state"
    return Commit(state=src, ok=False, message=f"{event} is not allowed in {src} (legal: {legal})")


class DirectTransitioner:
    """`direct` (and o2 SDK) tasks: the o2 event is the OCC call."""

    mode = "direct"

    def __init__(self, do: DoStep) -> None:
        self._do = do

    def from_device_state(self, state: str) -> str:
        return state

    async def commit(self, *, event: str, src: str, arguments: Mapping[str, str]) -> Commit:
        move = destination(event, src)
        if move is None:
            return illegal(event, src)
        step = Step(event=move[0], src=src, dst=move[1], arguments=arguments)
        reply = await self._do(step)
        if reply.reached(step):
            return Commit(state=reply.state, ok=True)
        return Commit(state=reply.state, ok=False, message=_failure(step, reply))


# FairMQ device states and events (FairMQ's names, with their spaces).
IDLE = "IDLE"
INITIALIZING_DEVICE = "INITIALIZING DEVICE"
INITIALIZED = "INITIALIZED"
BOUND = "BOUND"
DEVICE_READY = "DEVICE READY"
READY = "READY"
RUNNING = "RUNNING"
ERROR = "ERROR"
EXITING = "EXITING"

INIT_DEVICE = "INIT DEVICE"
COMPLETE_INIT = "COMPLETE INIT"
BIND = "BIND"
CONNECT = "CONNECT"
INIT_TASK = "INIT TASK"
RUN = "RUN"
STOP = "STOP"
RESET_TASK = "RESET TASK"
RESET_DEVICE = "RESET DEVICE"
END = "END"

FAIRMQ_STATE_OF: Mapping[str, str] = {
    OccState.STANDBY: IDLE,
    OccState.CONFIGURED: READY,
    OccState.RUNNING: RUNNING,
    OccState.ERROR: ERROR,
    OccState.DONE: EXITING,
}
"""o2 state -> the FairMQ state it is; every other FairMQ state is intermediate."""
O2_STATE_OF: Mapping[str, str] = {fmq: str(o2) for o2, fmq in FAIRMQ_STATE_OF.items()}

_CONFIGURE_CHAIN = (
    (INIT_DEVICE, INITIALIZING_DEVICE),
    (COMPLETE_INIT, INITIALIZED),
    (BIND, BOUND),
    (CONNECT, DEVICE_READY),
    (INIT_TASK, READY),
)
_RESET_CHAIN = ((RESET_TASK, DEVICE_READY), (RESET_DEVICE, IDLE))
_CARRY_ARGUMENTS = frozenset({INIT_DEVICE, RESET_DEVICE, RUN, STOP, END})
_ROLLED_BACK = frozenset({INITIALIZED, BOUND, DEVICE_READY})
"""Intermediate states a CONFIGURE or RESET stuck in is rolled back from (as AliECS does)."""


class FairMQTransitioner(DirectTransitioner):
    """`fairmq` tasks: o2 events become FairMQ's multi-step sequences (see the module doc)."""

    mode = "fairmq"

    def from_device_state(self, state: str) -> str:
        """The o2 state of a FairMQ state; "" for an intermediate one."""
        return O2_STATE_OF.get(state, "")

    async def commit(self, *, event: str, src: str, arguments: Mapping[str, str]) -> Commit:
        move = destination(event, src)
        if move is None:
            return illegal(event, src)
        name = move[0]
        if name in (OccEvent.GO_ERROR, OccEvent.RECOVER):
            return Commit(src, ok=False, message=f"{name} is not a FairMQ device transition")
        start = FAIRMQ_STATE_OF[src]
        if name == OccEvent.CONFIGURE:
            return await self._chain(start, _CONFIGURE_CHAIN, arguments, rollback=True)
        if name == OccEvent.RESET:
            return await self._chain(start, _RESET_CHAIN, arguments, rollback=True)
        if name == OccEvent.START:
            return await self._chain(start, ((RUN, RUNNING),), arguments)
        if name == OccEvent.STOP:
            return await self._chain(start, ((STOP, READY),), arguments)
        if src == OccState.CONFIGURED:  # EXIT: FairMQ ends only from IDLE
            reset = await self._chain(start, _RESET_CHAIN, arguments, rollback=True)
            if not reset.ok:
                return reset
            start = IDLE
        return await self._chain(start, ((END, EXITING),), arguments)

    async def _chain(
        self,
        state: str,
        chain: tuple[tuple[str, str], ...],
        arguments: Mapping[str, str],
        *,
        rollback: bool = False,
    ) -> Commit:
        """Run `chain` from FairMQ `state`; the o2 event's arguments go with the call that
        carries them in AliECS (INIT DEVICE, RUN, STOP, END; RESET DEVICE of a RESET)."""
        origin = state
        for event, dst in chain:
            step = Step(
                event=event,
                src=state,
                dst=dst,
                arguments=arguments if event in _CARRY_ARGUMENTS else {},
            )
            reply = await self._do(step)
            if not reply.reached(step):
                if rollback and reply.state == state and state in _ROLLED_BACK:
                    reply = await self._roll_back(state, origin)
                return Commit(
                    state=self.from_device_state(reply.state),
                    ok=False,
                    message=_failure(step, reply),
                )
            state = reply.state
        return Commit(state=self.from_device_state(state), ok=True)

    async def _roll_back(self, stuck: str, origin: str) -> StepReply:
        """Back from an intermediate state to the stable state the sequence started from."""
        event = RESET_DEVICE if origin == IDLE else INIT_TASK
        return await self._do(Step(event=event, src=stuck, dst=origin))


Transitioner = DirectTransitioner
"""What the runtime holds per task (a FairMQTransitioner is one too)."""


def transitioner_for(mode: str, do: DoStep) -> Transitioner:
    """The transitioner of a control mode (as in AliECS: fairmq has its own, all others direct)."""
    if mode == "fairmq":
        return FairMQTransitioner(do)
    return DirectTransitioner(do)
