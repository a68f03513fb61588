"""PilotReconciler: one pass over every node per change (its job `pilots`): observe the caches,
`plan()`, then write Node statuses, delete (drain) and create pilot Tasks, report Events. The
pass is a singleton: changes its plan reads trigger it (coalesced while a pass runs), and it
runs again after the delay its plan asks for and about every 30 s.

Order of writes, so a controller restarted at any point resumes without a second pilot or a lost
drain: Node statuses first (reclaim marker, drain record), then deletions (the drain signal), then
creations (deterministic names: a second create of the same pilot is AlreadyExists). After its
writes the pass waits until the caches show them (`Context.caught_up`), so the next pass plans
from the caches alone and never acts twice on a stale read.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence

from controller.pilots.plan import Note, Plan, World, plan
from controller.pilots.reclaim import unschedulable_since
from controller.runtime.reconciler import Context, Job, Reconciler, Result, Trigger
from controller.runtime.status import write_status
from crds.errors import AlreadyExistsError, NotFoundError
from crds.kinds.environment import Environment
from crds.kinds.node import Node
from crds.kinds.task import Task, is_pilot
from crds.kinds.taskclass import TaskClass
from crds.resource import Resource
from store.informer import CacheEvent

log = logging.getLogger(__name__)

PASS_JOB = "pilots"
PASS_PERIOD = 30.0
"""The pass also runs this often whatever changed (a safety net)."""


def _node_matters(event: CacheEvent[Node]) -> bool:
    """Not on the node controller's routine writes (lastSeen, allocated, task counts)."""
    old, new = event.old, event.new
    if old is None or new is None:
        return True

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

    return facts(old) != facts(new)


def _environment_matters(event: CacheEvent[Environment]) -> bool:
    old, new = event.old, event.new
    if old is None or new is None:
        return True
    return (old.spec.state, old.spec.reclaim, old.status.state) != (
        new.spec.state,
        new.spec.reclaim,
        new.status.state,
    )


def _task_matters(event: CacheEvent[Task]) -> bool:
    """A pass only when something the plan reads changed: not on every OCC state change."""
    old, new = event.old, event.new
    if old is None or new is None or is_pilot(new):
        return True
    return (
        old.status.phase != new.status.phase
        or old.status.hostname != new.status.hostname
        or old.metadata.deletion_timestamp != new.metadata.deletion_timestamp
        or old.spec.environment != new.spec.environment
        or unschedulable_since(old) != unschedulable_since(new)
    )


class PilotReconciler(Reconciler):
    name = "pilots"
    kind = None
    workers = 0
    resync_period = None

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.settings = ctx.settings.pilots
        self._hinted: set[tuple[str, str]] = set()

    def jobs(self) -> Sequence[Job]:
        triggers = (
            Trigger(Task, _task_matters),
            Trigger(Environment, _environment_matters),
            Trigger(Node, _node_matters),
            Trigger(TaskClass),
        )
        return [Job(PASS_JOB, self.run_pass, period=PASS_PERIOD, triggers=triggers)]

    async def run_pass(self) -> Result:
        """Observe every node, plan, act; again when the plan asks for it."""
        world = World(
            nodes=self.ctx.cache(Node).list(),
            tasks=self.ctx.cache(Task).list(),
            environments={e.name: e for e in self.ctx.cache(Environment).list()},
            classes={c.name: c for c in self.ctx.cache(TaskClass).list()},
            settings=self.settings,
        )
        decided = plan(world, now=self.ctx.clock.now())
        await self._act(decided, world)
        return Result(requeue_after=decided.requeue_after)

    async def _act(self, decided: Plan, world: World) -> None:
        """Write in the documented order, then wait until the caches show every write."""
        nodes = {n.name: n for n in world.nodes}
        written: dict[type[Resource], int] = {}

        def wrote(obj: Resource | None) -> None:
            if obj is not None:
                revision = obj.metadata.resource_version or 0
                written[type(obj)] = max(written.get(type(obj), 0), revision)

        store = self.ctx.store
        for name, status in decided.statuses.items():
            wrote(await write_status(store, nodes[name], status, observe=False))
        for name, held in decided.reclaimed_nodes.items():
            env = world.environments[name]
            env_status = env.status.model_copy(update={"reclaimed_nodes": held})
            wrote(await write_status(store, env, env_status, observe=False))
        for name in decided.drain:
            with contextlib.suppress(NotFoundError):
                wrote(await store.delete(Task, name))
                log.info("Draining pilot", extra={"task": name})
        for task in decided.create:
            try:
                wrote(await store.create(task))
                log.info("Started pilot", extra={"task": task.name})
            except AlreadyExistsError:
                pass
        for note in decided.notes:
            self._report(note, nodes)
        for kind, revision in written.items():
            await self.ctx.caught_up(kind, revision)

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
