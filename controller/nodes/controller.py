"""NodeReconciler: keeps one Node resource per Mesos agent, from the master's agent list.

The reserved key `@agents` (never a Node name) polls `GET /master/slaves` every
`node_poll_period` seconds (`$O2_NODE_POLL_PERIOD`, default 5) while leading: it creates a Node
for every new agent and writes every Node's status (hostname, agent id, attributes, resources
total/allocated, o2 task count, Ready, last seen) in one batched status write. Nodes whose agent
left stay, marked not Ready. `spec.unschedulable` (cordon) is read by the task controller.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from datetime import datetime

from controller.mesos.master import fetch_agents
from controller.nodes import inventory
from controller.runtime.reconciler import Context, Reconciler, Result, Watch
from controller.runtime.status import with_conditions
from crds.errors import AlreadyExistsError, MesosError
from crds.kinds.node import Node, NodeStatus
from crds.kinds.task import TERMINAL_PHASES, Task
from crds.meta import ObjectMeta, utcnow

log = logging.getLogger(__name__)

AGENTS_KEY = "@agents"


class NodeReconciler(Reconciler):
    name = "nodes"
    kind = Node
    workers = 2
    resync_period = 300.0

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        mesos = str(ctx.options.get("mesos") or os.environ.get("O2_MESOS") or "")
        self.master = mesos.split(",", maxsplit=1)[0].strip() if mesos else ""
        period = ctx.options.get("node_poll_period") or os.environ.get("O2_NODE_POLL_PERIOD")
        self.period = float(str(period or 5.0))

    def watches(self) -> list[Watch]:
        return [Watch(Task, lambda _event: ())]  # keeps the Task cache warm for task counts

    def resync_keys(self) -> Iterable[str]:
        return [AGENTS_KEY]

    async def reconcile(self, key: str) -> Result:
        if key != AGENTS_KEY or not self.master:
            return Result()
        try:
            doc = await fetch_agents(self.master)
        except MesosError as exc:
            log.warning(
                "Cannot read the agent list", extra={"master": self.master, "error": str(exc)}
            )
            return Result(requeue_after=self.period)
        await self.sync(inventory.parse_agents(doc), now=utcnow())
        return Result(requeue_after=self.period)

    async def sync(self, agents: list[inventory.AgentSummary], *, now: datetime) -> int:
        """Create missing Nodes and write every Node's status; the number of statuses written."""
        cache = self.ctx.cache(Node)
        by_name = {inventory.node_name(a.hostname): a for a in agents}
        for name in by_name.keys() - set(cache.names()):
            await self._create(name)
        counts = self._task_counts()
        updated: list[Node] = []
        for name in set(cache.names()) | set(by_name):
            node = cache.get(name) or await self.ctx.store.get(Node, name)
            new = self._status(node, by_name.get(name), counts, now=now)
            if new != node.status:
                updated.append(node.model_copy(update={"status": new}))
        if updated:
            results = await self.ctx.store.update_status_many(updated)
            for node, result in zip(updated, results, strict=True):
                if isinstance(result, Exception):
                    log.info(
                        "Node status not written", extra={"node": node.name, "error": str(result)}
                    )
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
