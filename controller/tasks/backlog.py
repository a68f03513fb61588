"""The launch backlog: which Tasks wait for a launch, and why one fits no offer. Its own
bookkeeping only (no store, no Mesos): the offer side asks it, the coordinator feeds it.

The candidates are tracked from cache events and our own status writes, grouped by shape
(controller.tasks.queue), so an offer round costs what its offers can place and what is due to
be reported, not O(pending) and not O(tasks) with 10,000 tasks running."""

from __future__ import annotations

from collections.abc import Iterable

from controller.tasks.base import FINALIZER
from controller.tasks.queue import Candidates, Group
from controller.tasks.roster import Roster
from crds.kinds.task import Task
from store.informer import Informer


class Backlog:
    """Launch candidates and unschedulable reasons, by task name."""

    def __init__(self, cache: Informer[Task], roster: Roster) -> None:
        self._cache = cache
        self._roster = roster
        self._unlaunched: Candidates | None = None
        """Names whose stored status is Pending without a Mesos task (None: not built yet)."""
        self._unplaced: dict[str, str] = {}
        """Why each task reported unschedulable fits nowhere."""
        self._line_end = 0
        """Where the previous candidates' line ended (the next ones' places follow it)."""

    def restart(self) -> None:
        """A new subscription: the candidates are rebuilt from the cache on first use."""
        if self._unlaunched is not None:
            self._line_end = self._unlaunched.mark()
        self._unlaunched = None

    def pending(self, names: Iterable[str] | None = None) -> list[Task]:
        """Tasks waiting for a launch (of `names`, or all: then only the candidates are looked
        at, which keeps an offer round O(pending) with 10,000 tasks running)."""
        candidates = self._candidates()
        names = candidates if names is None else [n for n in names if n in candidates]
        return [t for t in self._roster.live(names) if _launchable(t)]

    def pending_besides(self, names: set[str]) -> list[Task]:
        """`pending()` but for `names`: only the other candidates are looked at."""
        return self.pending([n for n in self._candidates() if n not in names])

    def still_waiting(self, names: set[str]) -> set[str]:
        """Those of `names` that are still candidates."""
        candidates = self._candidates()
        return {n for n in names if n in candidates}

    def mark(self) -> int:
        """Where the line of candidates ends now (for `pending_since`)."""
        return self._candidates().mark()

    def pending_since(self, mark: int, *, among: set[str] | None = None) -> list[Task]:
        """The tasks that became pending since `mark` (while an offer round ran), found
        without a look at every pending task; with `among`, only those of them in it."""
        since = self._candidates().since(mark)
        return self.pending(since if among is None else [n for n in since if n in among])

    def groups(self) -> list[Group]:
        """The candidates by shape (a group's tasks need not all be launchable: see
        `launchable`)."""
        return self._candidates().groups()

    def launchable(self, name: str) -> Task | None:
        """The task as it will be, if it waits for a launch."""
        task = self._roster.view(name)
        return task if task is not None and _launchable(task) else None

    def any_pending(self) -> bool:
        """Whether `pending()` is not empty; stops at the first (a round asks it after placing
        a part of 10,000 pending tasks)."""
        return any(_launchable(t) for t in self._roster.each_live(self._candidates()))

    def _candidates(self) -> Candidates:
        """Tasks whose stored status is unlaunched (from cache events and our own writes), and
        those sent back to Pending by a change not stored yet (`requeue`)."""
        if self._unlaunched is None:  # first use this term: from the cache
            self._unlaunched = Candidates(start=self._line_end)
            for name in self._cache.names():
                task = self._cache.get(name)
                if task is not None and _unlaunched(task):
                    self._unlaunched.add(name, task)
        return self._unlaunched

    def requeue(self, name: str) -> None:
        """A status change about to make `name` Pending again (a launch that never happened)."""
        task = self._cache.get(name)
        if task is not None:
            self._candidates().add(name, task)

    def track(self, name: str, task: Task | None) -> None:
        """A stored copy of `name` (None: gone), from the cache or our own write."""
        if self._unlaunched is None:
            return
        if task is not None and _unlaunched(task):
            self._unlaunched.add(name, task)
        else:
            self._unlaunched.discard(name)

    def unschedulable_reason(self, name: str) -> str | None:
        """Why `name` was reported unschedulable (None: it was not)."""
        return self._unplaced.get(name)

    def unschedulable(self, name: str, why: str) -> None:
        """`name` is reported unschedulable with `why`: its group stops counting it as due."""
        self._unplaced[name] = why
        group = self._candidates().group_of(name)
        if group is not None:
            group.report(name, why)

    def placed(self, name: str) -> None:
        """`name` got an offer: it is no longer unschedulable."""
        self._unplaced.pop(name, None)
        group = self._candidates().group_of(name)
        if group is not None:
            group.renew(name)

    def forget(self, name: str) -> None:
        """The task is gone for good."""
        self._unplaced.pop(name, None)


def _launchable(task: Task) -> bool:
    return (
        task.status.phase == "Pending"
        and not task.status.mesos_task_id
        and task.metadata.deletion_timestamp is None
        and FINALIZER in task.metadata.finalizers  # else its deletion could not kill it
    )


def _unlaunched(task: Task | None) -> bool:
    return task is not None and task.status.phase == "Pending" and not task.status.mesos_task_id
