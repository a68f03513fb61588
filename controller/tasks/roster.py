"""The Tasks as the framework decides on them: the informer's copies with the status writer's
changes applied, and the questions every part asks of them (which are live, which Mesos knows,
on which agents). Read-only: no store, no Mesos."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from controller.tasks import status as st
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

    def answered(self, task: Task) -> bool:
        """Whether a write that changes nothing but observedGeneration (and the conditions) is
        not needed for `task` (a `view`): its generation is observed, or a transition toward it
        is due or in flight (its answer's write stamps it: status.generation_answered), or the
        write of the changes queued or in flight for it stamps it. A task-table row, an update
        or a transition result that says what the view says then asks for nothing: during a
        transition over N tasks, a periodic table or reconciliation finds most of them being
        written (at 50,000 tasks, START: a status change queued and a look for each, to find
        nothing to change)."""
        return st.generation_answered(task) or (
            self._cache.get(task.name) is not task
            and self._writer.stamps(task.name, task.metadata.generation)
        )

    def names(self) -> list[str]:
        return self._cache.names()

    def live(self, names: Iterable[str] | None = None) -> list[Task]:
        """The tasks (of `names`, or all) whose process is not over."""
        return list(self.each_live(names))

    def each_live(self, names: Iterable[str] | None = None) -> Iterator[Task]:
        """`live()`, one at a time (for a caller that may stop early). Over all tasks, a view
        is asked for only of those with a status change queued or in flight (at 50,000 tasks
        a walk is a thorough pass's or a reconciliation's: most of them are the cached copy)."""
        if names is None:
            writing, view = self._writer.writing, self._writer.view
            for cached in self._cache.list():
                task = view(name) if writing(name := cached.metadata.name) else cached
                if task is not None and task.status.phase not in TERMINAL_PHASES:
                    yield task
            return
        for name in names:
            task = self._writer.view(name)
            if task is not None and task.status.phase not in TERMINAL_PHASES:
                yield task

    def known(self, *, agent: str | None = None) -> list[KnownTask]:
        """The live tasks that have a Mesos task (on `agent`, or anywhere): what explicit
        reconciliation asks about. A launch whose ACCEPT may not have reached the master yet
        is left out (controller.tasks.inflight): the answer could be "unknown" and stale."""
        return self.known_and_agents(agent=agent)[0]

    def known_and_agents(self, *, agent: str | None = None) -> tuple[list[KnownTask], set[str]]:
        """`known()` and `agents()` in one walk over the tasks (the periodic reconciliation
        asks both: at 50,000 tasks, one walk less)."""
        known: list[KnownTask] = []
        agents: set[str] = set()
        launches = self._launches
        for t in self.each_live():
            status = t.status
            if (on := status.agent_id) and (agent is None or on == agent):
                agents.add(on)
            mesos_id = status.mesos_task_id
            if mesos_id and mesos_id not in launches and (agent is None or on == agent):
                known.append((TaskId(mesos_id), AgentId(on) if on else None))
        return known, agents

    def agents(self) -> set[str]:
        """The agents that run live tasks."""
        return self.known_and_agents()[1]
