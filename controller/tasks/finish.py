"""The derived fields of every Task status write: conditions and observedGeneration. Pure.

A Task's conditions: Ready (Running and in the desired OCC state), Scheduled (placed, or why
not), Stalled (ended, or in ERROR).

The status writer (controller.tasks.writer) finishes each new status with these just before it
writes a batch. A transition over 10,000 tasks brings most of them to the same few conditions
at the same time, so the conditions are worked out once per distinct (present conditions, new
conditions, generation) in a batch, not once per task: `conditions_of` gives one tuple per
distinct set of conditions, and the tuple a batch stamps is shared by every status that gets
it, so the next batch finds those statuses' present conditions by identity too.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime

from controller.runtime.status import conditions_set
from crds.copies import replaced
from crds.kinds.task import TERMINAL_PHASES, Task, TaskStatus
from crds.meta import Condition

MEMO = 4096
"""Distinct (present, new, generation) entries kept for one `now` (a batch has up to 512)."""

_Entry = tuple[tuple[Condition, ...], tuple[Condition, ...], tuple[Condition, ...]]
"""(present conditions, new conditions, the result): held, so the ids in the key stay theirs."""


class StatusFinisher:
    """`finish(task, status, now)`: `status` with the conditions of what it says and the
    task's generation observed, in one copy (none when both are already so)."""

    def __init__(self, unplaced: Callable[[str], str | None]) -> None:
        self._unplaced = unplaced
        """Why a task fits no offer (asked of Pending tasks only)."""
        self._now: datetime | None = None
        self._memo: dict[tuple[int, int, int], _Entry] = {}
        self._shared: dict[tuple[int, ...], tuple[Condition, ...]] = {}
        """Each stamped result by the ids of its conditions (held by the tuple itself)."""

    def __call__(self, task: Task, status: TaskStatus, now: datetime) -> TaskStatus:
        unplaced = self._unplaced(task.name) if status.phase == "Pending" else None
        new = conditions_of(status, desired=task.spec.state, unplaced=unplaced)
        generation = task.metadata.generation
        present = status.conditions
        conditions = self._conditions(present, new, generation, now)
        if conditions is present:
            if status.observed_generation == generation:
                return status
            return replaced(status, {"observed_generation": generation})
        return replaced(status, {"conditions": conditions, "observed_generation": generation})

    def _conditions(
        self,
        present: tuple[Condition, ...],
        new: tuple[Condition, ...],
        generation: int,
        now: datetime,
    ) -> tuple[Condition, ...]:
        if now is not self._now or len(self._memo) >= MEMO:
            self._now = now
            self._memo.clear()
            self._shared.clear()
        key = (id(present), id(new), generation)
        entry = self._memo.get(key)
        if entry is not None and entry[0] is present and entry[1] is new:
            return entry[2]
        result = conditions_set(present, new, generation=generation, now=now)
        if result is not present:
            result = self._shared.setdefault(tuple(map(id, result)), result)
        self._memo[key] = (present, new, result)
        return result


def conditions(task: Task, *, unplaced: str | None = None) -> tuple[Condition, ...]:
    """Ready (Running and in the desired OCC state), Scheduled (placed, or why not), Stalled."""
    return conditions_of(task.status, desired=task.spec.state, unplaced=unplaced)


def conditions_of(
    status: TaskStatus, *, desired: str, unplaced: str | None = None
) -> tuple[Condition, ...]:
    """`conditions` of a task whose status would be `status` and whose spec.state is
    `desired`: no copy of the Task is made to ask. The same tuple for every status that has
    the same conditions (a status write compares and stamps them once per batch)."""
    return _conditions((
        status.phase, status.state, desired, status.message, unplaced,
        status.agent_id, status.hostname,
    ))  # fmt: skip


_Facts = tuple[str, str | None, str, str, str | None, str | None, str | None]
"""(phase, state, desired state, message, why unplaced, agent id, hostname)."""


@functools.lru_cache(maxsize=4096)
def _conditions(facts: _Facts) -> tuple[Condition, ...]:
    phase, state, desired, message, unplaced, agent_id, hostname = facts
    ready = phase == "Running" and state == desired
    out = [_condition("Ready", ready, _ready_reason(phase, state, desired), message)]
    if unplaced is not None:
        out.append(_condition("Scheduled", False, "Unschedulable", unplaced))
    elif agent_id:
        out.append(_condition("Scheduled", True, "Placed", f"on {hostname or agent_id}"))
    stalled = phase in TERMINAL_PHASES or state == "ERROR"
    out.append(_condition("Stalled", stalled, phase if stalled else "", message if stalled else ""))
    return tuple(out)


@functools.lru_cache(maxsize=4096)
def _condition(type_: str, ok: bool, reason: str, message: str) -> Condition:
    """One condition, shared by every status that has it (frozen, nothing to stamp yet): every
    status write of every task asks for three, and most are the same few (the same hosts, no
    message)."""
    return Condition(type=type_, status="True" if ok else "False", reason=reason, message=message)


def _ready_reason(phase: str, state: str | None, desired: str) -> str:
    if phase != "Running":
        return phase
    if state != desired:
        return "Transitioning"
    return "InDesiredState"


def same_status(a: TaskStatus, b: TaskStatus) -> bool:
    """`a == b`, cheaply for the usual answers: the same object, or field values that differ
    (a dict comparison, which skips the values the new status shares with the old one; the
    fields pydantic's comparison looks at are these and a few that are the same but for
    extras). Equal values (a no-op change) get pydantic's own verdict."""
    if a is b:
        return True
    if type(a) is not type(b) or a.__dict__ != b.__dict__:
        return False
    return a == b
