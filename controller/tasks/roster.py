"""The Tasks as the framework decides on them: the informer's copies with the status writer's
changes applied, and the questions every part asks of them (which are live, which Mesos knows,
on which agents). No store, no Mesos; it keeps only the launches whose ACCEPT is in flight."""

from __future__ import annotations

from collections.abc import Iterable

from controller.tasks.writer import StatusWriter
from crds.kinds.task import TERMINAL_PHASES, Task
from mesosapi.models import AgentId, TaskId
from store.informer import Informer

KnownTask = tuple[TaskId, AgentId | None]
"""A Mesos task o2 launched, as reconciliation asks the master about it."""


class Roster:
    """One place that answers "which tasks", so every part answers it the same way."""

    def __init__(self, cache: Informer[Task], writer: StatusWriter) -> None:
        self._cache = cache
        self._writer = writer
        self._accepting: set[str] = set()

    def view(self, name: str) -> Task | None:
        """The task as its status will be once the queued writes are in."""
        return self._writer.view(name)

    def names(self) -> list[str]:
        return self._cache.names()

    def live(self, names: Iterable[str] | None = None) -> list[Task]:
        """The tasks (of `names`, or all) whose process is not over."""
        out = []
        for name in self._cache.names() if names is None else names:
            task = self._writer.view(name)
            if task is not None and task.status.phase not in TERMINAL_PHASES:
                out.append(task)
        return out

    def accepting(self, mesos_ids: Iterable[str]) -> None:
        """These launches are being written and accepted: until `accepted`, Mesos may not know
        them yet, so they are not reconciled (the master would answer "unknown" and the launch
        would go back to Pending while the ACCEPT starts it)."""
        self._accepting.update(mesos_ids)

    def accepted(self, mesos_ids: Iterable[str]) -> None:
        """The ACCEPT of these launches returned (or failed): reconcile them again."""
        self._accepting.difference_update(mesos_ids)

    def known(self, *, agent: str | None = None) -> list[KnownTask]:
        """The live tasks that have a Mesos task (on `agent`, or anywhere), but for launches
        whose ACCEPT is in flight."""
        return [
            (
                TaskId(t.status.mesos_task_id),
                AgentId(t.status.agent_id) if t.status.agent_id else None,
            )
            for t in self.live()
            if t.status.mesos_task_id
            and t.status.mesos_task_id not in self._accepting
            and (agent is None or t.status.agent_id == agent)
        ]

    def agents(self) -> set[str]:
        """The agents that run live tasks."""
        return {t.status.agent_id for t in self.live() if t.status.agent_id}
