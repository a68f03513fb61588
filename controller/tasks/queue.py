"""The launch candidates, grouped by shape, in the order they became candidates. Bookkeeping
only (no store, no Mesos): the backlog keeps it, the offer round reads it.

A round asks each shape once whether its offers can host it, and looks at a group's tasks
only when they can be placed or when one of them is due to be reported unschedulable: each
group keeps its tasks that have not fit an offer yet (`fresh`), those that have not fit since
some time (`waiting`, in that order, so the due ones are found at its front) and those
reported (`reported`, with the reason each was reported with).
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from controller.tasks.base import FINALIZER
from controller.tasks.shapes import Shape, shape_of
from crds.kinds.task import Task, TaskSpec, is_pilot

Host = tuple[str, str, bool]
"""(agent id, hostname, registered): an agent that could host a shape, whichever round it
offers in; a registered one has a ready Node but has not offered this term
(controller.tasks.waits)."""

WhyOf = Callable[[str], str | None]
"""Why a task of a group fit none of this round's offers (None: it was placed, or not tried)."""


@dataclass(eq=False)
class Group:
    """The candidates of one shape."""

    shape: Shape
    names: dict[str, int] = field(default_factory=dict)
    """Name -> its place in line (ascending: insertion order is line order)."""
    fresh: dict[str, None] = field(default_factory=dict)
    """Candidates that have fit every round's offers they met (none yet)."""
    waiting: dict[str, float] = field(default_factory=dict)
    """Name -> when it first fit no offer (ascending), not reported yet."""
    reported: dict[str, str] = field(default_factory=dict)
    """Name -> the reason it was reported unschedulable with."""
    reasons: Counter[str] = field(default_factory=Counter)
    """How many of `reported` have each reason."""
    hosts: tuple[int, tuple[Host, ...]] | None = None
    """The agents that could host the shape, with the version of what they were worked out
    from (kept by controller.tasks.waits across rounds)."""

    def stamp(self, why_of: WhyOf, *, now: float) -> None:
        """The fresh tasks that fit no offer this round start waiting now."""
        for name in [n for n in self.fresh if why_of(n) is not None]:
            del self.fresh[name]
            self.waiting[name] = now

    def oldest(self) -> float | None:
        """Since when the longest-waiting task fits no offer (None: none waits)."""
        return next(iter(self.waiting.values()), None)

    def due(self, cutoff: float) -> list[str]:
        """The waiting tasks that fit no offer since `cutoff` or earlier."""
        return list(itertools.takewhile(lambda n: self.waiting[n] <= cutoff, self.waiting))

    def report(self, name: str, why: str) -> None:
        self.waiting.pop(name, None)
        self._unreport(name)
        self.reported[name] = why
        self.reasons[why] += 1

    def outdated(self, why: str | None) -> list[str]:
        """The reported tasks whose reason is no longer `why` (None: each its own, so all)."""
        if why is not None and set(self.reasons) <= {why}:
            return []
        return [n for n, was in self.reported.items() if was != why]

    def renew(self, name: str) -> None:
        """`name` was placed: it starts over as fresh (should its launch not be written)."""
        self.waiting.pop(name, None)
        self._unreport(name)
        self.fresh.pop(name, None)
        self.fresh[name] = None

    def remove(self, name: str) -> None:
        self.names.pop(name, None)
        self.fresh.pop(name, None)
        self.waiting.pop(name, None)
        self._unreport(name)

    def _unreport(self, name: str) -> None:
        was = self.reported.pop(name, None)
        if was is not None:
            self.reasons[was] -= 1
            if not self.reasons[was]:
                del self.reasons[was]


class Candidates:
    """Launch candidates by name, each in the group of its shape."""

    def __init__(self, *, start: int = 0) -> None:
        self._next = start
        self._line: dict[str, int] = {}
        """Name -> its place in line, in line order (a re-added name goes to the end)."""
        self._where: dict[str, tuple[Group, TaskSpec, bool, bool]] = {}
        """Name -> its group, the spec and pilot flag its shape was taken from, whether it had
        the finalizer."""
        self._groups: dict[Shape, Group] = {}

    def __contains__(self, name: object) -> bool:
        return name in self._line

    def __iter__(self) -> Iterator[str]:
        return iter(self._line)

    def __len__(self) -> int:
        return len(self._line)

    def add(self, name: str, task: Task) -> None:
        """`name` (stored as `task`) is a candidate. A new spec may move it to another shape's
        group; gaining the finalizer (only then is it launchable) puts it at the end of the
        line, as if it joined now (see `since`)."""
        owned, pilot = FINALIZER in task.metadata.finalizers, is_pilot(task)
        where = self._where.get(name)
        gained = False
        if where is not None:
            group, spec, was_pilot, had = where
            if spec is task.spec and was_pilot == pilot and (had or not owned):
                return
            gained = owned and not had
            if (spec is not task.spec or was_pilot != pilot) and shape_of(task) != group.shape:
                self.discard(name)
                where = None
        if where is None:
            shape = shape_of(task)
            group = self._groups.get(shape) or self._groups.setdefault(shape, Group(shape))
        seq, self._next = self._next, self._next + 1
        self._line.pop(name, None)
        self._line[name] = seq
        group.names.pop(name, None)
        group.names[name] = seq
        if gained:
            group.renew(name)  # launchable only now: it has not fit nothing yet
        elif name not in group.waiting and name not in group.reported:
            group.fresh[name] = None
        self._where[name] = (group, task.spec, pilot, owned)

    def discard(self, name: str) -> None:
        where = self._where.pop(name, None)
        self._line.pop(name, None)
        if where is None:
            return
        group = where[0]
        group.remove(name)
        if not group.names:
            del self._groups[group.shape]

    def group_of(self, name: str) -> Group | None:
        where = self._where.get(name)
        return None if where is None else where[0]

    def groups(self) -> list[Group]:
        return list(self._groups.values())

    def mark(self) -> int:
        """The place in line the next candidate gets."""
        return self._next

    def since(self, mark: int) -> list[str]:
        """The candidates that joined the line at `mark` or later (newest first)."""
        out: list[str] = []
        for name, seq in reversed(self._line.items()):
            if seq < mark:
                break
            out.append(name)
        return out
