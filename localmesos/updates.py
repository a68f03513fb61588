"""Mesos' status update manager for one agent: a FIFO stream of reliable updates per task.

Only the head of a task's stream is forwarded to the master; it is retried (doubling interval)
until the scheduler ACKNOWLEDGEs its uuid, then the next one goes. Duplicates (same uuid) are
dropped; the task's latest state is recorded on arrival, and its resources freed as soon as it
is terminal (not at acknowledgement time). Pure bookkeeping plus loop timers; no I/O.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import TYPE_CHECKING

from localmesos.model import TERMINAL_STATES, Json, Task, now

if TYPE_CHECKING:
    from localmesos.agent import Agent


class UpdateManager:
    def __init__(self, agent: Agent) -> None:
        self._agent = agent

    def update(self, task: Task, status: Json) -> None:
        """Record the latest state, queue the update in the task's stream, forward the head."""
        agent = self._agent
        uid = str(status["uuid"])
        if uid in task.seen_uuids or agent.tasks.get((task.framework_id, task.task_id)) is not task:
            return  # a duplicate, or a task the agent already forgot (framework removed)
        task.seen_uuids.add(uid)
        status["agent_id"] = {"value": agent.agent_id}
        status["executor_id"] = {"value": task.executor_id}
        status.setdefault("timestamp", now())
        was_terminal = task.terminal
        task.state = str(status["state"])
        if task.terminal and not was_terminal:  # freed now; offered at the next allocation
            agent.ledger.release(task.resources)
        task.pending.append(status)
        if len(task.pending) == 1:
            self._restart(task)

    def _restart(self, task: Task) -> None:
        self.cancel(task)
        task.retry_interval = self._agent.master.timers.update_retry_initial
        self._forward_head(task)

    def _forward_head(self, task: Task) -> None:
        agent = self._agent
        if not task.pending or agent.dead:
            return
        if agent.reachable:
            agent.master.forward_update(task, task.pending[0])
        loop = asyncio.get_running_loop()
        task.retry_handle = loop.call_later(task.retry_interval, self._retry, task)

    def _retry(self, task: Task) -> None:
        task.retry_handle = None
        timers = self._agent.master.timers
        task.retry_interval = min(task.retry_interval * 2, timers.update_retry_max)
        self._forward_head(task)

    def cancel(self, task: Task) -> None:
        if task.retry_handle is not None:
            task.retry_handle.cancel()
            task.retry_handle = None

    def resend(self, tasks: Iterable[Task]) -> None:
        """Forward the heads now (agent re-registered, framework re-subscribed) instead of at the
        next retry: still at-least-once, schedulers tolerate duplicates either way."""
        for task in tasks:
            if task.pending:
                self._restart(task)

    def acknowledge(self, task: Task, uid: str) -> bool:
        """Scheduler ACK: pops the head if the uuid matches (else ignored). True when that was
        the task's terminal update, so the task is done."""
        if not task.pending or task.pending[0].get("uuid") != uid:
            return False
        head = task.pending.popleft()
        self.cancel(task)
        if task.pending:
            self._restart(task)
            return False
        return head["state"] in TERMINAL_STATES and task.terminal
