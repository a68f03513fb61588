"""The pure parts of GUI actions: which spec each action writes, and the audit Event."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gui.actions import ACTIONS, DESIRED_STATE, action_event, desired_spec
from tests.gui.samples import environment

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("action", "state"),
    [
        ("deploy", "DEPLOYED"),
        ("configure", "CONFIGURED"),
        ("start", "RUNNING"),
        ("stop", "CONFIGURED"),
        ("reset", "DEPLOYED"),
        ("exit", "DONE"),
    ],
)
def test_state_actions_write_spec_state_only(action: str, state: str) -> None:
    spec = environment().spec
    after = desired_spec(spec, action)
    assert after.state == state
    assert after.model_copy(update={"state": spec.state}) == spec


def test_recover_bumps_recover_request_and_keeps_state() -> None:
    spec = environment(state="RUNNING").spec
    after = desired_spec(spec, "recover")
    assert (after.recover_request, after.state) == (spec.recover_request + 1, "RUNNING")


def test_every_action_is_known() -> None:
    assert set(ACTIONS) == {*DESIRED_STATE, "recover"}


def test_audit_event_names_the_environment_and_who_asked() -> None:
    env = environment("physics-1", state="RUNNING")
    event = action_event(env, action="start", who="alice", now=NOW)
    assert event.metadata.name.startswith("physics-1-")
    assert event.spec.involved_object.name == "physics-1"
    assert event.spec.reason == "UserAction" and event.spec.source == "o2-gui"
    assert "alice" in event.spec.message and "START" in event.spec.message


def test_two_requests_get_two_events() -> None:
    env = environment()
    first = action_event(env, action="stop", who="alice", now=NOW)
    second = action_event(env, action="stop", who="alice", now=NOW.replace(second=1))
    assert first.metadata.name != second.metadata.name
