"""The environment state machine: paths, stickiness, and the step order of a transition."""

from __future__ import annotations

import pytest

from controller.environments.expansion import Hook
from controller.environments.machine import (
    destination,
    next_event,
    shortest_path,
    transition_steps,
)
from crds.moments import parse_moment


@pytest.mark.parametrize(
    ("current", "desired", "path"),
    [
        ("STANDBY", "RUNNING", ("DEPLOY", "CONFIGURE", "START_ACTIVITY")),
        ("RUNNING", "DEPLOYED", ("STOP_ACTIVITY", "RESET")),
        ("RUNNING", "DONE", ("STOP_ACTIVITY", "EXIT")),
        ("DEPLOYED", "DONE", ("EXIT",)),
        ("CONFIGURED", "CONFIGURED", ()),
    ],
)
def test_shortest_legal_path(current: str, desired: str, path: tuple[str, ...]) -> None:
    assert shortest_path(current, desired) == path


def test_standby_cannot_be_reached_back_and_says_so() -> None:
    decision = next_event("DEPLOYED", "STANDBY", recover=False)
    assert decision.event is None and "cannot be reached" in decision.reason


def test_error_is_sticky_until_recover_requested() -> None:
    assert next_event("ERROR", "RUNNING", recover=False).event is None
    assert "o2 recover" in next_event("ERROR", "RUNNING", recover=False).reason
    assert next_event("ERROR", "RUNNING", recover=True).event == "RECOVER"


def test_done_is_terminal() -> None:
    assert next_event("DONE", "RUNNING", recover=True).event is None


def test_illegal_event_is_refused() -> None:
    with pytest.raises(ValueError, match="START_ACTIVITY is not possible from DEPLOYED"):
        destination("DEPLOYED", "START_ACTIVITY")


def hook(path: str, trigger: str, await_: str | None = None) -> Hook:
    moment = parse_moment(trigger)
    return Hook(path, ("true",), moment, parse_moment(await_) if await_ else moment, 1.0, True)


def test_steps_follow_aliecs_order_with_run_number_between_weights() -> None:
    hooks = [
        hook("after", "after_START_ACTIVITY"),
        hook("enter", "enter_RUNNING-5"),
        hook("late", "before_START_ACTIVITY+10"),
        hook("early", "before_START_ACTIVITY-200"),
        hook("leave", "leave_CONFIGURED"),
        hook("other", "before_STOP_ACTIVITY"),
    ]
    steps = transition_steps("START_ACTIVITY", "CONFIGURED", hooks)
    assert [s.id for s in steps] == [
        "before_START_ACTIVITY-200",
        "run-number",
        "before_START_ACTIVITY+10",
        "leave_CONFIGURED",
        "tasks_START_ACTIVITY",
        "enter_RUNNING-5",
        "after_START_ACTIVITY",
    ]


def test_async_hook_starts_at_trigger_and_is_awaited_later() -> None:
    steps = transition_steps(
        "START_ACTIVITY",
        "CONFIGURED",
        [hook("odc", "before_START_ACTIVITY+50", "after_START_ACTIVITY-10")],
    )
    by_id = {s.id: s for s in steps}
    assert [h.path for h in by_id["before_START_ACTIVITY+50"].start] == ["odc"]
    assert by_id["before_START_ACTIVITY+50"].await_ == ()
    assert [h.path for h in by_id["after_START_ACTIVITY-10"].await_] == ["odc"]


def test_transition_without_hooks_is_only_the_tasks_step() -> None:
    assert [s.id for s in transition_steps("DEPLOY", "STANDBY", [])] == ["tasks_DEPLOY"]
