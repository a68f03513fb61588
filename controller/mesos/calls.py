"""Typed scheduler calls (ACCEPT, DECLINE, KILL, ACKNOWLEDGE, RECONCILE ...) as methods, on top of
one abstract `call()`; SchedulerClient provides the transport. No I/O here."""

from __future__ import annotations

from collections.abc import Sequence

from mesosapi.models import (
    AgentId,
    DurationInfo,
    ExecutorId,
    Filters,
    KillPolicy,
    OfferId,
    Operation,
    TaskId,
    TaskInfo,
    TaskStatus,
)
from mesosapi.scheduler import (
    Accept,
    Acknowledge,
    Decline,
    Kill,
    MessageCall,
    Reconcile,
    ReconcileTask,
    Revive,
    SchedulerCall,
    Shutdown,
    Suppress,
    Teardown,
)


class SchedulerCalls:
    """Every scheduler call o2 makes, each one HTTP request through `call()`."""

    async def call(self, call: SchedulerCall) -> None:
        raise NotImplementedError

    async def accept(
        self,
        offer_ids: Sequence[OfferId],
        operations: Sequence[Operation],
        *,
        filters: Filters | None = None,
    ) -> None:
        await self.call(
            Accept(offer_ids=list(offer_ids), operations=list(operations), filters=filters)
        )

    async def launch(
        self,
        offer_ids: Sequence[OfferId],
        tasks: Sequence[TaskInfo],
        *,
        refuse_seconds: float | None = None,
    ) -> None:
        """One ACCEPT with one LAUNCH of all `tasks` (batch as many as the offers hold)."""
        filters = Filters(refuse_seconds=refuse_seconds) if refuse_seconds is not None else None
        await self.accept(offer_ids, [Operation.of_launch(list(tasks))], filters=filters)

    async def decline(
        self, offer_ids: Sequence[OfferId], *, refuse_seconds: float | None = None
    ) -> None:
        filters = Filters(refuse_seconds=refuse_seconds) if refuse_seconds is not None else None
        await self.call(Decline(offer_ids=list(offer_ids), filters=filters))

    async def revive(self, roles: Sequence[str] | None = None) -> None:
        await self.call(Revive(roles=list(roles) if roles else None))

    async def suppress(self, roles: Sequence[str] | None = None) -> None:
        await self.call(Suppress(roles=list(roles) if roles else None))

    async def kill(
        self,
        task_id: TaskId,
        *,
        agent_id: AgentId | None = None,
        grace_seconds: float | None = None,
    ) -> None:
        policy = None
        if grace_seconds is not None:
            policy = KillPolicy(grace_period=DurationInfo.of_seconds(grace_seconds))
        await self.call(Kill(task_id=task_id, agent_id=agent_id, kill_policy=policy))

    async def shutdown_executor(self, executor_id: ExecutorId, agent_id: AgentId) -> None:
        await self.call(Shutdown(executor_id=executor_id, agent_id=agent_id))

    async def acknowledge(self, status: TaskStatus) -> bool:
        """ACK an update that carries a uuid (reliable); False (nothing sent) for one without."""
        if status.uuid is None or status.agent_id is None:
            return False
        await self.call(
            Acknowledge(agent_id=status.agent_id, task_id=status.task_id, uuid=status.uuid)
        )
        return True

    async def reconcile(self, tasks: Sequence[tuple[TaskId, AgentId | None]] = ()) -> None:
        """Explicit for the given (task, agent) pairs; implicit (all tasks) when empty."""
        await self.call(Reconcile(tasks=[ReconcileTask(task_id=t, agent_id=a) for t, a in tasks]))

    async def message(self, agent_id: AgentId, executor_id: ExecutorId, data: bytes) -> None:
        await self.call(MessageCall(agent_id=agent_id, executor_id=executor_id, data=data))

    async def teardown(self) -> None:
        """Unregister the framework: Mesos kills all its tasks and executors."""
        await self.call(Teardown())
