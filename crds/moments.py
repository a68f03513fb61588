"""Hook moments of an environment's transitions: parse `before_START_ACTIVITY+10` and friends,
and order them within one transition (AliECS's looplab/fsm callbacks). Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass

from crds.kinds.common import ENVIRONMENT_EVENTS, ENVIRONMENT_STATES, TRANSITIONS

_MOMENT = re.compile(
    r"^(?:(?P<when>before|after|enter|leave)_)?(?P<what>[A-Z_]+?)(?P<weight>[+-]\d+)?$"
)


TEARDOWN_EVENT = "DESTROY"
"""The teardown: not a state machine event, run when the environment is deleted or has exited
(before_DESTROY, leave_<STATE>, its tasks released, then DESTROY = after_DESTROY)."""
CREATE_EVENT = "CREATE"
"""The creation: enter_STANDBY hooks run once when the environment is new."""
HOOK_EVENTS: tuple[str, ...] = (*ENVIRONMENT_EVENTS, TEARDOWN_EVENT)


@dataclass(frozen=True)
class Moment:
    """A hook moment: `before_START_ACTIVITY+10` is ("before", "START_ACTIVITY", 10)."""

    when: str
    what: str
    weight: int = 0


def parse_moment(text: str) -> Moment:
    """Parse a trigger or await expression into its canonical moment.

    `(before|after)_<EVENT>` (any event, and DESTROY), `(enter|leave)_<STATE>` (any state),
    with an optional signed weight. A bare name means what the AliECS handbook (looplab/fsm)
    says: `<EVENT>` is `after_<EVENT>` (so `DESTROY` is `after_DESTROY`, as AliECS merges them),
    `<STATE>` is `enter_<STATE>`.
    """
    match = _MOMENT.match(text.strip())
    if match is None:
        raise ValueError(_moment_help(text))
    when, what = match.group("when"), match.group("what")
    if when is None:
        when = "after" if what in HOOK_EVENTS else "enter"
    names = HOOK_EVENTS if when in ("before", "after") else ENVIRONMENT_STATES
    if what not in names:
        raise ValueError(_moment_help(text))
    return Moment(when=when, what=what, weight=int(match.group("weight") or 0))


def moment_sequence(event: str, source: str) -> tuple[tuple[str, str], ...] | None:
    """The hook moments of `event` from `source`, in order, or None when it cannot happen.

    A transition: before_<EVENT>, leave_<SOURCE>, enter_<DESTINATION>, after_<EVENT>. CREATE:
    enter_STANDBY. DESTROY (from any state): before_DESTROY, leave_<SOURCE>, after_DESTROY.
    """
    if event == CREATE_EVENT:
        return (("enter", "STANDBY"),) if source == "STANDBY" else None
    if event == TEARDOWN_EVENT:
        return (("before", event), ("leave", source), ("after", event))
    sources, destination = TRANSITIONS[event]
    if source not in sources:
        return None
    return (("before", event), ("leave", source), ("enter", destination), ("after", event))


def moment_order(moment: Moment, *, event: str, source: str) -> tuple[int, int] | None:
    """Where `moment` falls in `event` from `source`: (step, weight), or None."""
    steps = moment_sequence(event, source)
    if steps is None:
        return None
    try:
        return steps.index((moment.when, moment.what)), moment.weight
    except ValueError:
        return None


def await_is_reachable(trigger: Moment, await_: Moment) -> bool:
    """Whether some transition passes `trigger` and then (or at the same point) `await_`."""
    for event in (*TRANSITIONS, CREATE_EVENT, TEARDOWN_EVENT):
        for source in ENVIRONMENT_STATES:
            start = moment_order(trigger, event=event, source=source)
            end = moment_order(await_, event=event, source=source)
            if start is not None and end is not None and end >= start:
                return True
    return False


def _moment_help(text: str) -> str:
    return (
        f"{text!r} is not a hook moment: use before_<EVENT> or after_<EVENT> "
        f"(events: {', '.join(HOOK_EVENTS)}), enter_<STATE> or leave_<STATE> "
        f"(states: {', '.join(ENVIRONMENT_STATES)}), or a bare <EVENT> (= after_<EVENT>) or "
        "<STATE> (= enter_<STATE>), with an optional weight like +10 or -200"
    )


def checked_moment(value: str | None) -> str | None:
    """`value` unchanged once it parses as a moment (ValueError naming the allowed forms)."""
    if value is not None:
        parse_moment(value)
    return value


def check_await(trigger: str | None, await_: str | None) -> None:
    if trigger is None or await_ is None:
        return
    if not await_is_reachable(parse_moment(trigger), parse_moment(await_)):
        raise ValueError(
            f"await {await_!r} never comes at or after trigger {trigger!r} within one transition"
        )
