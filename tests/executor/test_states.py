"""The OCC state machine table (pure)."""

from __future__ import annotations

from executor.occ.states import (
    OccEvent,
    OccState,
    legal_events,
    next_state,
    parse_event,
    step_toward_done,
)


def test_full_cycle_follows_design():
    state = OccState.STANDBY
    for event, expected in [
        (OccEvent.CONFIGURE, OccState.CONFIGURED),
        (OccEvent.START, OccState.RUNNING),
        (OccEvent.STOP, OccState.CONFIGURED),
        (OccEvent.RESET, OccState.STANDBY),
        (OccEvent.EXIT, OccState.DONE),
    ]:
        moved = next_state(state, event)
        assert moved is expected
        state = moved


def test_start_from_standby_is_illegal():
    assert next_state(OccState.STANDBY, OccEvent.START) is None


def test_done_accepts_nothing():
    assert legal_events(OccState.DONE) == []


def test_go_error_from_running_and_recover_to_standby():
    assert next_state(OccState.RUNNING, OccEvent.GO_ERROR) is OccState.ERROR
    assert next_state(OccState.ERROR, OccEvent.RECOVER) is OccState.STANDBY


def test_exit_is_not_legal_while_running():
    assert next_state(OccState.RUNNING, OccEvent.EXIT) is None


def test_events_parse_case_insensitively_and_reject_unknown():
    assert parse_event(" configure ") is OccEvent.CONFIGURE
    assert parse_event("PAUSE") is None


def test_shutdown_walk_reaches_done_from_every_live_state():
    for start in (OccState.RUNNING, OccState.CONFIGURED, OccState.STANDBY, OccState.ERROR):
        state: OccState | None = start
        for _ in range(3):
            event = step_toward_done(state) if state else None
            if event is None:
                break
            state = next_state(state, event) if state else None
        assert state is OccState.DONE, start
