"""An agent: its tasks' delivery to executors, and the per-task status update manager.

The executors' own lifecycle (start, adopt, timeouts, shutdown, reaping) is
localmesos.executors'; the update manager's ack/retry rules are localmesos.updates'.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web

from localmesos import procs
from localmesos.config import AgentSpec
from localmesos.executors import ExecutorLifecycle
from localmesos.hollow import ResponderFactory
from localmesos.model import (
    Executor,
    ExecutorState,
    Framework,
    Json,
    Task,
    new_uuid_b64,
    now,
)
from localmesos.resources import ResourceLedger, attributes_json
from localmesos.updates import UpdateManager

if TYPE_CHECKING:
    from localmesos.master import Master

log = logging.getLogger(__name__)


class Agent:
    def __init__(
        self,
        master: Master,
        spec: AgentSpec,
        *,
        index: int,
        work_dir: Path,
        responder: ResponderFactory | None = None,
    ) -> None:
        self.master = master
        self.spec = spec
        self.index = index
        self.agent_id = master.new_agent_id()
        self.port = 0
        self.work_dir = work_dir
        self.ledger = ResourceLedger(spec.resources())
        self.executors: dict[tuple[str, str], Executor] = {}
        self.tasks: dict[tuple[str, str], Task] = {}
        self.reachable = True
        self.dead = False
        self.registered_time = now()
        self.responder = responder
        self.exit_statuses: list[int] = []
        self.http_runner: web.AppRunner | None = None
        self.updates = UpdateManager(self)
        self.lifecycle = ExecutorLifecycle(self)

    @property
    def hollow(self) -> bool:
        return self.spec.hollow

    @property
    def pid(self) -> str:
        return f"slave({self.index})@{self.master.host}:{self.port}"

    def attributes_json(self) -> list[Json]:
        return attributes_json(self.spec.attributes)

    def agent_info(self) -> Json:
        return {
            "hostname": self.spec.hostname,
            "port": self.port,
            "id": {"value": self.agent_id},
            "resources": self.ledger.total.to_json(),
            "attributes": self.attributes_json(),
        }

    def executor_ids_json(self, framework_id: str) -> list[Json]:
        return [
            {"value": e.executor_id}
            for e in self.executors.values()
            if e.framework_id == framework_id and e.state is not ExecutorState.TERMINATED
        ]

    def find_executor(self, framework_id: str, executor_id: str) -> Executor | None:
        return self.executors.get((framework_id, executor_id))

    # -- launching --------------------------------------------------------------------------------

    def launch(
        self, fw: Framework, executor_info: Json | None, tasks: list[Task], *, group: bool
    ) -> None:
        """Hand accepted tasks to their executor, starting it if needed (tasks stay STAGING)."""
        info = (
            executor_info
            if executor_info is not None
            else procs.command_executor_info(tasks[0].info, framework_id=fw.framework_id)
        )
        eid = str(info["executor_id"]["value"])
        executor = self.executors.get((fw.framework_id, eid))
        if executor is None:
            executor = self.lifecycle.start(fw, info)
        for task in tasks:
            self.ledger.claim(task.resources)
            executor.tasks[task.task_id] = task
            self.tasks[(fw.framework_id, task.task_id)] = task
        if executor.state is ExecutorState.TERMINATING:
            state = "TASK_DROPPED" if fw.partition_aware else "TASK_LOST"
            for task in tasks:
                self.agent_update(
                    task,
                    state,
                    reason="REASON_EXECUTOR_TERMINATED",
                    message="Executor is terminating",
                )
        elif executor.state is ExecutorState.RUNNING:
            self._deliver_tasks(executor, tasks, group=group)

    def adopt(self, executor: Executor) -> None:
        """An executor the previous cluster left running (see ExecutorLifecycle.adopt)."""
        self.lifecycle.adopt(executor)

    def expect_resubscription(self, executor: Executor) -> None:
        """The executor lives on and must SUBSCRIBE again within the recovery timeout."""
        self.lifecycle.expect_resubscription(executor)

    def _deliver_tasks(self, executor: Executor, tasks: list[Task], *, group: bool) -> None:
        live = [t for t in tasks if not t.terminal and not t.delivered]
        for task in live:
            task.delivered = True
        if not live:
            return
        if group:
            event = {
                "type": "LAUNCH_GROUP",
                "launch_group": {
                    "executor": executor.info,
                    "task_group": {"tasks": [t.info for t in live]},
                },
            }
            self.deliver(executor, event)
        else:
            for task in live:
                self.deliver(executor, {"type": "LAUNCH", "launch": {"task": task.info}})

    def deliver(self, executor: Executor, event: Json) -> None:
        if executor.hollow is not None:
            executor.hollow.handle(event)
        elif executor.stream is not None:
            executor.stream.send(event)

    def deliver_queued(self, executor: Executor) -> None:
        """After SUBSCRIBED: the tasks queued while the executor was registering."""
        queued = [t for t in executor.tasks.values() if not t.delivered and not t.terminal]
        groups: dict[tuple[str, ...], list[Task]] = {}
        for task in queued:
            groups.setdefault(tuple(task.group or [task.task_id]), []).append(task)
        for key, members in groups.items():
            self._deliver_tasks(executor, members, group=members[0].group is not None and bool(key))

    # -- kill, messages, shutdown ----------------------------------------------------------------

    def kill_task(self, task: Task, *, kill_policy: Json | None) -> None:
        executor = self.executors.get((task.framework_id, task.executor_id))
        if executor is None or task.terminal:
            return
        if not task.delivered:
            self.agent_update(
                task,
                "TASK_KILLED",
                reason="REASON_TASK_KILLED_DURING_LAUNCH",
                message="Killed before delivery to the executor",
            )
            if not executor.live_tasks and executor.state is ExecutorState.REGISTERING:
                self.shutdown_executor(executor)
            return
        kill: Json = {"task_id": {"value": task.task_id}}
        if kill_policy:
            kill["kill_policy"] = kill_policy
        self.deliver(executor, {"type": "KILL", "kill": kill})

    def message_to_executor(self, framework_id: str, executor_id: str, data: str) -> None:
        executor = self.executors.get((framework_id, executor_id))
        if executor is None or executor.state is not ExecutorState.RUNNING or not self.reachable:
            log.info("Dropping framework message", extra={"executor": executor_id})
            return
        self.deliver(executor, {"type": "MESSAGE", "message": {"data": data}})

    def shutdown_executor(self, executor: Executor) -> None:
        """SHUTDOWN, then the kill after its grace period (see ExecutorLifecycle.shutdown)."""
        self.lifecycle.shutdown(executor)

    def executor_exited(
        self, executor: Executor, *, status: int, reason: str | None = None
    ) -> None:
        """Reap: live tasks fail, then FAILURE to the master (see ExecutorLifecycle.exited)."""
        self.lifecycle.exited(executor, status=status, reason=reason)

    def remove_framework(self, framework_id: str) -> None:
        for executor in [e for e in self.executors.values() if e.framework_id == framework_id]:
            self.shutdown_executor(executor)
        for key in [k for k in self.tasks if k[0] == framework_id]:
            task = self.tasks.pop(key)
            self.updates.cancel(task)
            if not task.terminal:
                task.state = "TASK_KILLED"
                self.ledger.release(task.resources)

    # -- status update manager -------------------------------------------------------------------

    def agent_update(self, task: Task, state: str, *, reason: str, message: str) -> None:
        """A reliable update generated by the agent itself (SOURCE_AGENT, with a uuid)."""
        status = {
            "task_id": {"value": task.task_id},
            "state": state,
            "source": "SOURCE_AGENT",
            "reason": reason,
            "message": message,
            "uuid": new_uuid_b64(),
        }
        self.status_update(task, status)

    def status_update(self, task: Task, status: Json) -> None:
        self.updates.update(task, status)

    def resend_updates(self, framework_id: str) -> None:
        """A framework re-subscribed: resend its pending heads now."""
        self.updates.resend(t for (fid, _), t in self.tasks.items() if fid == framework_id)

    def acknowledge(self, framework_id: str, task_id: str, uid: str) -> None:
        task = self.tasks.get((framework_id, task_id))
        if task is None or not self.updates.acknowledge(task, uid):
            return
        self.tasks.pop((framework_id, task_id), None)
        executor = self.executors.get((framework_id, task.executor_id))
        if executor is not None:
            executor.tasks.pop(task_id, None)
        self.master.task_completed(task)

    async def stop_http(self) -> None:
        if self.http_runner is not None:
            runner, self.http_runner = self.http_runner, None
            await runner.cleanup()

    async def shutdown(self, *, grace: float = 5.0) -> None:
        """Cluster stop: kill every executor's process group and reap them; nothing is reported."""
        self.dead = True
        self.lifecycle.kill_all()
        for task in self.tasks.values():
            self.updates.cancel(task)
        await self.lifecycle.wait_spawns(grace=grace)
        await self.stop_http()

    async def leave(self) -> int:
        """Cluster exit keeping the executors (after the checkpoint was written): they see their
        agent go away and re-subscribe to the next cluster on the same port; nothing is killed
        or reported. Returns how many executor processes were left running."""
        self.dead = True
        await self.stop_http()
        for task in self.tasks.values():
            self.updates.cancel(task)
        return await self.lifecycle.leave()
