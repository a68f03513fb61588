"""PilotReconciler: one pass over every node per change (the reserved key `@pilots`): observe the
caches, `plan()`, then write Node statuses, delete (drain) and create pilot Tasks, report Events.

Order of writes, so a controller restarted at any point resumes without a second pilot or a lost
drain: Node statuses first (reclaim marker, drain record), then deletions (the drain signal), then
creations (deterministic names: a second create of the same pilot is AlreadyExists). The pass
reads its own recent writes over the informer cache, so a quick second pass does not act twice.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

from controller.pilots.plan import Note, Plan, World, plan, unschedulable_since
from controller.pilots.settings import PilotSettings
from controller.runtime.reconciler import Context, Reconciler, Result, Watch
from crds.errors import AlreadyExistsError, NotFoundError
from crds.kinds.environment import Environment
from crds.kinds.node import Node
from crds.kinds.task import Task, is_pilot
from crds.kinds.taskclass import TaskClass
from crds.meta import utcnow
from crds.resource import Resource
from store.informer import CacheEvent

log = logging.getLogger(__name__)

KEY = "@pilots"
R = TypeVar("R", bound=Resource)


def _all(_event: Any) -> Iterable[str]:
    return (KEY,)


def _node_matters(event: CacheEvent[Node]) -> Iterable[str]:
    """Not on the node controller's routine writes (lastSeen, allocated, task counts)."""
    old, new = event.old, event.new
    if old is None or new is None:
        return (KEY,)

    def facts(n: Node) -> tuple[object, ...]:
        s = n.status
        return (
            n.spec,
            n.metadata.annotations,
            n.metadata.deletion_timestamp,
            s.ready,
            s.hostname,
            s.agent_id,
            s.attributes,
            s.resources.total,
            s.pilot,
            s.reclaim,
            s.drain,
            s.backoff,
        )

    return () if facts(old) == facts(new) else (KEY,)


def _environment_matters(event: CacheEvent[Environment]) -> Iterable[str]:
    old, new = event.old, event.new
    if old is None or new is None:
        return (KEY,)
    same = (old.spec.state, old.spec.reclaim, old.status.state) == (
        new.spec.state,
        new.spec.reclaim,
        new.status.state,
    )
    return () if same else (KEY,)


def _task_matters(event: CacheEvent[Task]) -> Iterable[str]:
    """A pass only when something the plan reads changed: not on every OCC state change."""
    old, new = event.old, event.new
    if old is None or new is None or is_pilot(new):
        return (KEY,)
    if (
        old.status.phase != new.status.phase
        or old.status.hostname != new.status.hostname
        or old.metadata.deletion_timestamp != new.metadata.deletion_timestamp
        or old.spec.environment != new.spec.environment
        or unschedulable_since(old) != unschedulable_since(new)
    ):
        return (KEY,)
    return ()


class PilotReconciler(Reconciler):
    name = "pilots"
    kind = None
    workers = 1
    resync_period = 30.0

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.settings = PilotSettings.load(ctx.options, os.environ)
        self._nodes: dict[str, Node] = {}
        self._tasks: dict[str, Task] = {}
        self._envs: dict[str, Environment] = {}
        self._hinted: set[tuple[str, str]] = set()

    def watches(self) -> Sequence[Watch]:
        return [
            Watch(Task, _task_matters),
            Watch(Environment, _environment_matters),
            Watch(Node, _node_matters),
            Watch(TaskClass, _all),
        ]

    def resync_keys(self) -> Iterable[str]:
        return (KEY,)

    async def reconcile(self, key: str) -> Result:
        if key != KEY:
            return Result()
        world = World(
            nodes=_fresh(self.ctx.cache(Node).list(), self._nodes, keep_unseen=False),
            tasks=_fresh(self.ctx.cache(Task).list(), self._tasks),
            environments={
                e.name: e
                for e in _fresh(self.ctx.cache(Environment).list(), self._envs, keep_unseen=False)
            },
            classes={c.name: c for c in self.ctx.cache(TaskClass).list()},
            settings=self.settings,
        )
        decided = plan(world, now=utcnow())
        await self._act(decided, world)
        return Result(requeue_after=decided.requeue_after)

    async def _act(self, decided: Plan, world: World) -> None:
        nodes = {n.name: n for n in world.nodes}
        for name, status in decided.statuses.items():
            written = await self.ctx.store.update_status(
                nodes[name].model_copy(update={"status": status})
            )
            self._nodes[name] = written
        for name, held in decided.reclaimed_nodes.items():
            env = world.environments[name]
            env_status = env.status.model_copy(update={"reclaimed_nodes": held})
            self._envs[name] = await self.ctx.store.update_status(
                env.model_copy(update={"status": env_status})
            )
        for name in decided.drain:
            with contextlib.suppress(NotFoundError):
                marked = await self.ctx.store.delete(Task, name)
                if marked is not None:
                    self._tasks[name] = marked
                log.info("Draining pilot", extra={"task": name})
        for task in decided.create:
            try:
                self._tasks[task.name] = await self.ctx.store.create(task)
                log.info("Started pilot", extra={"task": task.name})
            except AlreadyExistsError:
                pass
        for note in decided.notes:
            self._report(note, nodes)

    def _report(self, note: Note, nodes: dict[str, Node]) -> None:
        if note.reason == "ReclaimPossible":  # said once per task and node, not every pass
            if (note.name, note.message) in self._hinted:
                return
            if len(self._hinted) > 10_000:
                self._hinted.clear()
            self._hinted.add((note.name, note.message))
        obj: Resource | None = nodes.get(note.name)
        if note.kind == "Environment":
            obj = self.ctx.cache(Environment).get(note.name)
        if obj is None:
            return
        self.ctx.events.event(obj, reason=note.reason, message=note.message, warning=note.warning)
        log.info(note.message, extra={"reason": note.reason, note.kind.lower(): note.name})


def _fresh(cached: Sequence[R], written: dict[str, R], *, keep_unseen: bool = True) -> list[R]:
    """The cache, with our own writes the cache has not caught up with yet (`keep_unseen`:
    also objects we created that the cache has not seen yet)."""
    out = []
    seen = set()
    for obj in cached:
        seen.add(obj.name)
        mine = written.get(obj.name)
        if mine is not None and (mine.metadata.resource_version or 0) > (
            obj.metadata.resource_version or 0
        ):
            out.append(mine)
        else:
            written.pop(obj.name, None)
            out.append(obj)
    for name, mine in list(written.items()):
        if name not in seen:
            if not keep_unseen or mine.metadata.deletion_timestamp is not None:
                written.pop(name)  # gone for good
            else:
                out.append(mine)  # created, not yet in the cache
    return out
