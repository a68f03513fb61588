"""NodeReconciler: keeps one Node resource per Mesos agent, from the master's agent list.

A controller of one job and no keys: the job `agents` polls `GET /master/slaves` every
`--node-poll-period` seconds (`$O2_NODE_POLL_PERIOD`, default 5) while leading: it creates a Node
for every new agent and writes every Node's status (hostname, agent id, attributes, resources
total/allocated, o2 task count, Ready, last seen) in one batched status write. Nodes whose agent
left stay, marked not Ready. `spec.unschedulable` (cordon) is read by the task controller.
Nodes and Tasks are only read (cached kinds): no change of theirs needs a poll sooner.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from controller.mesos.master import fetch_agents
from controller.nodes import inventory
from controller.runtime.reconciler import Context, Job, Reconciler, Result
from controller.runtime.status import with_conditions, write_status_many
from crds.errors import AlreadyExistsError, MesosError
from crds.kinds.node import Node, NodeStatus
from crds.kinds.task import TERMINAL_PHASES, Task
from crds.meta import ObjectMeta

log = logging.getLogger(__name__)

AGENTS_JOB = "agents"
SAFETY_PERIOD = 300.0
"""The poll also runs this often whatever it asked for (after a permanent failure)."""


class NodeReconciler(Reconciler):
    name = "nodes"
    cached_kinds = (Node, Task)  # Task: the o2 task count per agent
    workers = 0
    resync_period = None

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.master = ctx.settings.nodes.master
        self.period = ctx.settings.nodes.poll_period
        self.access = ctx.settings.nodes.access

    def jobs(self) -> Sequence[Job]:
        """The poll, when there is a master to poll."""
        return [Job(AGENTS_JOB, self.poll, period=SAFETY_PERIOD)] if self.master else []

    async def poll(self) -> Result:
        """Read the agent list and sync the Nodes; again after the poll period."""
        try:
            doc = await fetch_agents(self.master, access=self.access)
        except MesosError as exc:
            log.warning(
                "Cannot read the agent list", extra={"master": self.master, "error": str(exc)}
            )
            return Result(requeue_after=self.period)
        await self.sync(inventory.parse_agents(doc), now=self.ctx.clock.now())
        return Result(requeue_after=self.period)

    async def sync(self, agents: list[inventory.AgentSummary], *, now: datetime) -> int:
        """Create missing Nodes and write every Node's status; the number of statuses written."""
        cache = self.ctx.cache(Node)
        by_name = {inventory.node_name(a.hostname): a for a in agents}
        for name in by_name.keys() - set(cache.names()):
            await self._create(name)
        counts = self._task_counts()
        updated: list[tuple[Node, NodeStatus]] = []
        for name in set(cache.names()) | set(by_name):
            node = cache.get(name) or await self.ctx.store.get(Node, name)
            new = self._status(node, by_name.get(name), counts, now=now)
            if new != node.status:
                updated.append((node, new))
        if updated:
            result = await write_status_many(self.ctx.store, updated)
            for node in (*result.conflicts, *result.missing):
                log.info("Node status not written", extra={"node": node.name, "error": "changed"})
            for node, error in result.errors:
                log.info("Node status not written", extra={"node": node.name, "error": str(error)})
        return len(updated)

    async def _create(self, name: str) -> None:
        try:
            await self.ctx.store.create(Node(metadata=ObjectMeta(name=name)))
            log.info("Node added", extra={"node": name})
        except AlreadyExistsError:
            pass

    def _task_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for task in self.ctx.cache(Task).list():
            agent = task.status.agent_id
            if agent and task.status.phase not in TERMINAL_PHASES:
                counts[agent] = counts.get(agent, 0) + 1
        return counts

    def _status(
        self,
        node: Node,
        agent: inventory.AgentSummary | None,
        counts: dict[str, int],
        *,
        now: datetime,
    ) -> NodeStatus:
        if agent is None:
            status = inventory.missing_status(
                node.status, tasks=counts.get(node.status.agent_id or "", 0)
            )
        else:
            last = node.status.last_seen
            # last_seen moves at most once a minute: no status write per poll for idle nodes
            stamp = last if last is not None and (now - last).total_seconds() < 60 else now
            status = inventory.seen_status(
                node.status, agent, tasks=counts.get(agent.agent_id, 0), now=stamp
            )
        cond = inventory.ready_condition(status, cordoned=node.spec.unschedulable)
        status = status.model_copy(update={"observed_generation": node.metadata.generation})
        return with_conditions(status, [cond], generation=node.metadata.generation, now=now)
