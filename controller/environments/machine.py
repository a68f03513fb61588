"""The environment state machine (DESIGN §3) and the step list of one transition. Pure.

- The controller walks the shortest legal path from status.state to spec.state, using the
  operator events only (DEPLOY, CONFIGURE, START_ACTIVITY, STOP_ACTIVITY, RESET, EXIT); GO_ERROR
  is taken by the controller itself when a critical task or hook fails.
- ERROR is sticky: RECOVER (ERROR -> DEPLOYED) runs only when spec.recoverRequest is greater
  than status.recoveredRequest (`o2 recover` bumps it). DONE is terminal.
- A transition is a list of steps, in this order (as AliECS runs them):
  `before_<EVENT>` hooks by ascending weight (for START_ACTIVITY the run number is allocated
  between the negative and the zero/positive weights), `leave_<SOURCE>` hooks, the tasks step
  (`tasks_<EVENT>`), `enter_<DESTINATION>` hooks, `after_<EVENT>` hooks. A moment/weight without
  hooks is no step. A hook starts at its trigger step and is awaited at its await step (its
  trigger when it has none, or when the await moment is not part of this transition).
- Virtual transitions (not in the state machine, they keep the state): CREATE (enter_STANDBY
  hooks, once, when the environment is new) and DESTROY (before_DESTROY, leave_<STATE>, the
  tasks released, after_DESTROY; once, on delete or after EXIT).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from controller.environments.expansion import Hook
from crds.kinds.common import ENVIRONMENT_EVENTS, ENVIRONMENT_STATES, TRANSITIONS
from crds.kinds.environment import Environment
from crds.moments import CREATE_EVENT, TEARDOWN_EVENT, Moment, moment_sequence

STATES = ENVIRONMENT_STATES
EVENTS = ENVIRONMENT_EVENTS
OPERATOR_EVENTS: tuple[str, ...] = tuple(e for e in EVENTS if e not in ("GO_ERROR", "RECOVER"))
RUN_NUMBER_STEP = "run-number"

StepKind = Literal["hooks", "run-number", "tasks"]

_WHEN_ORDER = {"before": 0.0, "leave": 1.0, "enter": 2.0, "after": 3.0}
_TASKS_KEY = (1.5, 0.0)
_RUN_NUMBER_KEY = (0.0, -0.5)


def destination(state: str, event: str) -> str:
    """The state `event` leads to from `state`; ValueError when it is not legal there."""
    sources, target = TRANSITIONS[event]
    if state not in sources:
        raise ValueError(f"{event} is not possible from {state} (only from {', '.join(sources)})")
    return target


def shortest_path(current: str, desired: str) -> tuple[str, ...] | None:
    """The operator events from `current` to `desired` (empty when equal), or None if none."""
    if current == desired:
        return ()
    queue: deque[tuple[str, tuple[str, ...]]] = deque([(current, ())])
    seen = {current}
    while queue:
        state, path = queue.popleft()
        for event in OPERATOR_EVENTS:
            sources, target = TRANSITIONS[event]
            if state not in sources or target in seen:
                continue
            if target == desired:
                return (*path, event)
            seen.add(target)
            queue.append((target, (*path, event)))
    return None


@dataclass(frozen=True)
class Decision:
    """The next event to run, or None with the reason why nothing can be done ("" when there)."""

    event: str | None
    reason: str = ""


def recover_requested(env: Environment) -> bool:
    """Whether the user asked for a recovery that was not acted upon yet."""
    return env.spec.recover_request > env.status.recovered_request


def next_event(current: str, desired: str, *, recover: bool) -> Decision:
    """The first event of the shortest legal path, honouring ERROR stickiness and DONE."""
    if current == "DONE":
        return Decision(
            None, "" if desired == "DONE" else "DONE is final: create a new environment"
        )
    if current == "ERROR":
        if recover:
            return Decision("RECOVER")
        return Decision(None, "ERROR is sticky: run `o2 recover` to go back to DEPLOYED")
    path = shortest_path(current, desired)
    if path is None:
        return Decision(None, f"{desired} cannot be reached from {current}")
    return Decision(path[0] if path else None)


@dataclass(frozen=True)
class Step:
    """One step of a transition: hooks to start and to await, the run number, or the tasks."""

    id: str
    kind: StepKind
    key: tuple[float, float]
    start: tuple[Hook, ...] = ()
    await_: tuple[Hook, ...] = ()

    @property
    def moment(self) -> str:
        """`before_START_ACTIVITY` for a hook step; the id for the others."""
        return self.id.rstrip("+-0123456789") if self.kind == "hooks" else self.id


def tasks_step_id(event: str) -> str:
    return f"tasks_{event}"


def target_state(state: str, event: str) -> str:
    """Where `event` leaves an environment in `state`: CREATE and DESTROY keep the state."""
    if event in (CREATE_EVENT, TEARDOWN_EVENT):
        return state
    return destination(state, event)


def transition_steps(event: str, source: str, hooks: Sequence[Hook]) -> list[Step]:
    """The ordered steps of `event` from `source` with these hooks (see the module docstring).

    CREATE is its enter_STANDBY hooks alone; DESTROY is before_DESTROY, leave_<SOURCE>, the
    tasks step (release them), after_DESTROY."""
    sequence = moment_sequence(event, source)
    if sequence is None:
        destination(source, event)  # raises the reason
        raise ValueError(f"{event} is not possible from {source}")
    names = dict(sequence)
    starts: dict[tuple[float, float], list[Hook]] = {}
    awaits: dict[tuple[float, float], list[Hook]] = {}
    for hook in hooks:
        begin = _key(hook.trigger, names)
        if begin is None:
            continue
        end = _key(hook.await_, names)
        end = begin if end is None or end < begin else end
        starts.setdefault(begin, []).append(hook)
        awaits.setdefault(end, []).append(hook)
    steps = [
        Step(_hook_step_id(key, names), "hooks", key, tuple(starts.get(key, ())), tuple(hs))
        for key, hs in awaits.items()
    ]
    steps += [
        Step(_hook_step_id(key, names), "hooks", key, tuple(hs), ())
        for key, hs in starts.items()
        if key not in awaits
    ]
    if event != CREATE_EVENT:
        steps.append(Step(tasks_step_id(event), "tasks", _TASKS_KEY))
    if event == "START_ACTIVITY":
        steps.append(Step(RUN_NUMBER_STEP, "run-number", _RUN_NUMBER_KEY))
    return sorted(steps, key=lambda s: s.key)


def _key(moment: Moment, names: dict[str, str]) -> tuple[float, float] | None:
    if names.get(moment.when) != moment.what:
        return None
    return (_WHEN_ORDER[moment.when], float(moment.weight))


def _hook_step_id(key: tuple[float, float], names: dict[str, str]) -> str:
    when = next(w for w, order in _WHEN_ORDER.items() if order == key[0])
    weight = int(key[1])
    suffix = f"{weight:+d}" if weight else ""
    return f"{when}_{names[when]}{suffix}"


def has_teardown_hooks(hooks: Sequence[Hook]) -> bool:
    """Whether any hook runs at DESTROY: before_/after_DESTROY, or leave_<STATE> (a teardown
    leaves the state the environment is in)."""
    return any(h.trigger.what == TEARDOWN_EVENT or h.trigger.when == "leave" for h in hooks)


def virtual_event(env: Environment, hooks: Sequence[Hook]) -> str | None:
    """CREATE or DESTROY when one is due for `env` with no transition in progress.

    DESTROY once when the environment is deleted (from any state) or has exited (DONE) and
    has teardown hooks; CREATE once when it is new (STANDBY, no history) and has enter_STANDBY
    hooks."""
    status = env.status
    destroyed = any(h.event == TEARDOWN_EVENT for h in status.history)
    if env.metadata.deletion_timestamp is not None:
        return None if destroyed else TEARDOWN_EVENT
    if status.state == "DONE" and not destroyed and has_teardown_hooks(hooks):
        return TEARDOWN_EVENT
    fresh = status.state == "STANDBY" and not status.history
    if fresh and any((h.trigger.when, h.trigger.what) == ("enter", "STANDBY") for h in hooks):
        return CREATE_EVENT
    return None
