"""The Tasks as the framework decides on them: the informer's copies with the status writer's
changes applied, and the questions every part asks of them (which are live, which Mesos knows,
on which agents). Read-only: no store, no Mesos."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from controller.tasks.inflight import LaunchesInFlight
from controller.tasks.writer import StatusWriter
from crds.kinds.task import TERMINAL_PHASES, Task
from mesosapi.models import AgentId, TaskId
from store.informer import Informer

KnownTask = tuple[TaskId, AgentId | None]
"""A Mesos task o2 launched, as reconciliation asks the master about it."""


class Roster:
    """One place that answers "which tasks", so every part answers it the same way."""

    def __init__(
        self, cache: Informer[Task], writer: StatusWriter, launches: LaunchesInFlight
    ) -> None:
        self._cache = cache
        self._writer = writer
        self._launches = launches

    def view(self, name: str) -> Task | None:
        """The task as its status will be once the queued writes are in."""
        return self._writer.view(name)

    def stored(self, name: str) -> Task | None:
        """The informer's copy, without the writer's queued changes."""
        return self._cache.get(name)

    def is_stored(self, task: Task) -> bool:
        """Whether `task` (a `view`) is the stored copy itself: no status change of it is
        queued or waiting to show in the cache."""
        return self._cache.get(task.name) is task

    def names(self) -> list[str]:
        return self._cache.names()

    def live(self, names: Iterable[str] | None = None) -> list[Task]:
        """The tasks (of `names`, or all) whose process is not over."""
        return list(self.each_live(names))

    def each_live(self, names: Iterable[str] | None = None) -> Iterator[Task]:
        """`live()`, one at a time (for a caller that may stop early)."""
        for name in self._cache.names() if names is None else names:
            task = self._writer.view(name)
            if task is not None and task.status.phase not in TERMINAL_PHASES:
                yield task

    def known(self, *, agent: str | None = None) -> list[KnownTask]:
        """The live tasks that have a Mesos task (on `agent`, or anywhere): what explicit
        reconciliation asks about. A launch whose ACCEPT may not have reached the master yet
        is left out (controller.tasks.inflight): the answer could be "unknown" and stale."""
        return [
            (TaskId(mesos_id), AgentId(t.status.agent_id) if t.status.agent_id else None)
            for t in self.live()
            if (mesos_id := t.status.mesos_task_id)
            and mesos_id not in self._launches
            and (agent is None or t.status.agent_id == agent)
        ]

    def agents(self) -> set[str]:
        """The agents that run live tasks."""
        return {t.status.agent_id for t in self.live() if t.status.agent_id}
