"""The task OCC state machine (DESIGN.md §3): states, events, legal moves. Pure: no I/O.

    STANDBY -CONFIGURE-> CONFIGURED -START-> RUNNING -STOP-> CONFIGURED -RESET-> STANDBY
    EXIT (from STANDBY, CONFIGURED, ERROR) -> DONE;  GO_ERROR (any but DONE) -> ERROR;
    RECOVER: ERROR -> STANDBY

Shared by the task SDK (which enforces it) and the executor (which plans kill ladders with it).
"""

from __future__ import annotations

from enum import StrEnum


class OccState(StrEnum):
    STANDBY = "STANDBY"
    CONFIGURED = "CONFIGURED"
    RUNNING = "RUNNING"
    ERROR = "ERROR"
    DONE = "DONE"


class OccEvent(StrEnum):
    CONFIGURE = "CONFIGURE"
    START = "START"
    STOP = "STOP"
    RESET = "RESET"
    EXIT = "EXIT"
    GO_ERROR = "GO_ERROR"
    RECOVER = "RECOVER"


_MOVES: dict[tuple[OccState, OccEvent], OccState] = {
    (OccState.STANDBY, OccEvent.CONFIGURE): OccState.CONFIGURED,
    (OccState.CONFIGURED, OccEvent.START): OccState.RUNNING,
    (OccState.RUNNING, OccEvent.STOP): OccState.CONFIGURED,
    (OccState.CONFIGURED, OccEvent.RESET): OccState.STANDBY,
    (OccState.STANDBY, OccEvent.EXIT): OccState.DONE,
    (OccState.CONFIGURED, OccEvent.EXIT): OccState.DONE,
    (OccState.ERROR, OccEvent.EXIT): OccState.DONE,
    (OccState.ERROR, OccEvent.RECOVER): OccState.STANDBY,
    **{
        (state, OccEvent.GO_ERROR): OccState.ERROR
        for state in (OccState.STANDBY, OccState.CONFIGURED, OccState.RUNNING, OccState.ERROR)
    },
}


def next_state(state: OccState, event: OccEvent) -> OccState | None:
    """The state `event` leads to from `state`, or None when the move is illegal."""
    return _MOVES.get((state, event))


def legal_events(state: OccState) -> list[OccEvent]:
    """Events accepted in `state`, in declaration order (for error messages)."""
    return [event for event in OccEvent if (state, event) in _MOVES]


def parse_event(value: str) -> OccEvent | None:
    """An event name, case-insensitive; None when it is not an OCC event."""
    try:
        return OccEvent(value.strip().upper())
    except ValueError:
        return None


def parse_state(value: str) -> OccState | None:
    try:
        return OccState(value.strip().upper())
    except ValueError:
        return None


_TOWARD_DONE: dict[OccState, OccEvent] = {
    OccState.RUNNING: OccEvent.STOP,
    OccState.CONFIGURED: OccEvent.RESET,
    OccState.STANDBY: OccEvent.EXIT,
    OccState.ERROR: OccEvent.EXIT,
}


def step_toward_done(state: OccState) -> OccEvent | None:
    """The next event of the graceful shutdown walk, AliECS's: RUNNING -STOP-> CONFIGURED
    -RESET-> STANDBY -EXIT-> DONE (ERROR -EXIT-> DONE)."""
    return _TOWARD_DONE.get(state)
