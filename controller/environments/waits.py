"""Which Task events wake an environment whose transition waits for its tasks.

While a transition's tasks step waits (the plan writes nothing and leaves the step as it is),
the only event that can end the wait is the arrival of the last task it waits for; the ones
before it only change the counts in the status. Every Task event used to requeue the
environment, so a transition over 10,000 tasks ran a full pass (observe, plan, status write)
per batch of events, paced only by the pass's own cost. Now, after such a pass, the controller
`expect`s the tasks it waits for; a Task event then wakes the environment only when

- the last of them has arrived (status.state is the step's target, phase Running),
- a task failed (state ERROR or a terminal phase: a critical one moves the environment to
  ERROR at once, as before),
- something other than the task's progress changed: it was created or deleted, its spec,
  labels, annotations, finalizers or owners changed, its channels (the wiring of its peers)
  or its `terminated` flag changed.

Events between these are quiet, and so are the environment's own status-only changes (its
waiting pass's writes of new counts: they woke it again at once); the status counts are
refreshed after a bounded delay instead (the controller's `requeue_after`). A pass replaces the
expectation when it ends (the previous one filters the events while it runs); a pass that does
anything else drops it, and every event wakes the environment again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from crds.kinds.task import TERMINAL_PHASES, Task
from crds.labels import ENV_LABEL
from crds.resource import Resource
from store.informer import CacheEvent

Lookup = Callable[[str], Task | None]


@dataclass
class Wait:
    """A waiting environment: the tasks still on their way to `target`."""

    target: str
    pending: set[str] = field(default_factory=set)


def arrived(task: Task | None, target: str) -> bool:
    """`task` shows `target` (what the plan waits for, less the properties check: a task that
    arrived with stale properties is seen at the next pass)."""
    return task is not None and task.status.phase == "Running" and task.status.state == target


class Waits:
    """The expectations of waiting environments, and the Task watch that honours them."""

    def __init__(self) -> None:
        self._by_env: dict[str, Wait] = {}
        self.quiet = 0
        """Task events that woke no environment (for tests and metrics)."""

    def expect(self, env: str, target: str | None, waiting: Iterable[str], lookup: Lookup) -> bool:
        """After a pass that waits for `waiting` to reach `target`: wake `env` only as the
        module says. Names that arrived meanwhile (the cache is newer than the plan) are left
        out; when none is left, or without a target, nothing is expected (every event wakes).
        Returns whether an expectation is held."""
        self._by_env.pop(env, None)
        if target is None:
            return False
        pending = {name for name in waiting if not arrived(lookup(name), target)}
        if not pending:
            return False
        self._by_env[env] = Wait(target, pending)
        return True

    def forget(self, env: str) -> None:
        self._by_env.pop(env, None)

    def clear(self) -> None:
        self._by_env.clear()

    def expected(self, env: str) -> Wait | None:
        return self._by_env.get(env)

    def keys(self, event: CacheEvent[Any]) -> Iterable[str]:
        """The environments to requeue for a Task event (a watch key mapper)."""
        names: set[str] = set()
        for obj in (event.old, event.new):
            if obj is not None and ENV_LABEL in obj.metadata.labels:
                names.add(obj.metadata.labels[ENV_LABEL])
        woken = [name for name in names if self._wakes(name, event)]
        if not woken:
            self.quiet += 1
        return woken

    def own_keys(self, event: CacheEvent[Any]) -> Iterable[str]:
        """The Environment watch (the primary one: the environment itself): a status-only
        change of an environment that waits for its tasks is its own waiting pass's write
        (new counts), which would otherwise wake it at once, and so on while tasks move."""
        old, new = event.old, event.new
        if (
            old is not None
            and new is not None
            and event.name in self._by_env
            and _same_but_status(old, new)
        ):
            self.quiet += 1
            return ()
        return (event.name,)

    def _wakes(self, env: str, event: CacheEvent[Any]) -> bool:
        wait = self._by_env.get(env)
        if wait is None:
            return True
        old, new = event.old, event.new
        if old is None or new is None or not _only_progress(old, new):
            self._by_env.pop(env, None)
            return True
        if event.name in wait.pending and arrived(new, wait.target):
            wait.pending.discard(event.name)
            if not wait.pending:
                self._by_env.pop(env, None)
                return True
        return False


def _same_but_status(old: Resource, new: Resource) -> bool:
    """Only the status (and the resourceVersion) differ."""
    if old.metadata.generation != new.metadata.generation or not _same_meta(old, new):
        return False
    before, after = getattr(old, "spec", None), getattr(new, "spec", None)
    return before is after or bool(before == after)


def _same_meta(old: Resource, new: Resource) -> bool:
    before, after = old.metadata, new.metadata
    return (
        before.labels == after.labels
        and before.annotations == after.annotations
        and before.finalizers == after.finalizers
        and before.owner_references == after.owner_references
        and before.deletion_timestamp == after.deletion_timestamp
    )


def _only_progress(old: Task, new: Task) -> bool:
    """Only the task's way toward its desired state changed: nothing a plan acts on."""
    status = new.status
    if status.state == "ERROR" or status.phase in TERMINAL_PHASES:
        return False
    if old.spec is not new.spec and old.spec != new.spec:
        return False
    if status.channels != old.status.channels or status.terminated != old.status.terminated:
        return False
    return _same_meta(old, new)
