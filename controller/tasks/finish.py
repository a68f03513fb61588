"""The derived fields of every Task status write: conditions and observedGeneration. Pure.

The status writer (controller.tasks.writer) finishes each new status with these just before it
writes a batch. A transition over 10,000 tasks brings most of them to the same few conditions
at the same time, so the conditions are worked out once per distinct (present conditions, new
conditions, generation) in a batch, not once per task: `conditions_of` gives one tuple per
distinct set of conditions, and the tuple a batch stamps is shared by every status that gets
it, so the next batch finds those statuses' present conditions by identity too.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from controller.runtime.status import conditions_set
from controller.tasks.status import conditions_of
from crds.copies import replaced
from crds.kinds.task import Task, TaskStatus
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
