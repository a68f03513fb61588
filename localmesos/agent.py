"""An agent: executor lifecycle and the per-task status update manager (Mesos ack/retry rules)."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web

from localmesos import procs
from localmesos.config import AgentSpec
from localmesos.hollow import HollowExecutor, ResponderFactory
from localmesos.model import (
    Executor,
    ExecutorState,
    Framework,
    Json,
    Task,
    new_uuid_b64,
    now,
)
from localmesos.resources import ResourceLedger, Resources, attributes_json
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
        self._spawns: set[asyncio.Task[None]] = set()
        self._procs: dict[tuple[str, str], subprocess.Popen[bytes]] = {}
        self.updates = UpdateManager(self)

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
            executor = self._new_executor(fw, info)
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

    def _new_executor(self, fw: Framework, info: Json) -> Executor:
        container_id = str(uuid.uuid4())
        eid = str(info["executor_id"]["value"])
        sandbox = (
            self.work_dir
            / "slaves"
            / self.agent_id
            / "frameworks"
            / fw.framework_id
            / "executors"
            / eid
            / "runs"
            / container_id
        )
        executor = Executor(
            executor_id=eid,
            framework_id=fw.framework_id,
            agent_id=self.agent_id,
            info=info,
            resources=Resources.from_json(info.get("resources")),
            container_id=container_id,
            directory=str(sandbox),
        )
        self.executors[executor.key] = executor
        self.ledger.claim(executor.resources)
        if self.hollow:
            executor.hollow = HollowExecutor(self, executor, responder=self.responder)
            executor.state = ExecutorState.RUNNING
        else:
            self._track(asyncio.get_running_loop().create_task(self._spawn(fw, executor)))
        log.info(
            "Launching executor",
            extra={"agent": self.agent_id, "executor": eid, "framework": fw.framework_id},
        )
        return executor

    async def _spawn(self, fw: Framework, executor: Executor) -> None:
        timers = self.master.timers
        try:
            proc = procs.spawn(executor, fw_info=fw.info, agent=self, grace=self._grace(executor))
        except OSError as exc:
            log.error(
                "Executor failed to start",
                extra={"executor": executor.executor_id, "error": str(exc)},
            )
            self.executor_exited(executor, status=127 << 8, reason="REASON_EXECUTOR_TERMINATED")
            return
        executor.pid = proc.pid
        self._procs[executor.key] = proc
        if self.dead or executor.state is ExecutorState.TERMINATED:
            procs.kill_group(proc.pid)
        loop = asyncio.get_running_loop()
        loop.call_later(timers.executor_registration_timeout, self._registration_timeout, executor)
        try:
            status = await procs.wait(proc)
        finally:
            self._procs.pop(executor.key, None)
        self.executor_exited(executor, status=status)

    def _track(self, job: asyncio.Task[None]) -> None:
        self._spawns.add(job)
        job.add_done_callback(self._spawns.discard)

    def adopt(self, executor: Executor) -> None:
        """An executor the previous cluster left running (same pid, not necessarily our child):
        it must re-subscribe within the recovery timeout, and is reaped when it exits."""
        self.executors[executor.key] = executor
        if executor.pid is None:  # it did not outlive the cluster restart
            self.executor_exited(executor, status=0, reason="REASON_EXECUTOR_TERMINATED")
            return
        procs.adopt(executor.pid)
        self.expect_resubscription(executor)
        self._track(asyncio.get_running_loop().create_task(self._reap_adopted(executor)))

    async def _reap_adopted(self, executor: Executor) -> None:
        assert executor.pid is not None
        status = await procs.wait_adopted(executor.pid)
        self.executor_exited(executor, status=status)

    def expect_resubscription(self, executor: Executor) -> None:
        """Mesos agent recovery: the executor lives on and must SUBSCRIBE again within the
        recovery timeout, else it is killed (its tasks fail, REREGISTRATION_TIMEOUT)."""
        executor.state = ExecutorState.RECOVERING
        timeout = self.master.timers.executor_recovery_timeout
        asyncio.get_running_loop().call_later(timeout, self._recovery_timeout, executor)

    def _recovery_timeout(self, executor: Executor) -> None:
        if executor.state is ExecutorState.RECOVERING and not self.dead:
            log.warning("Executor did not re-subscribe", extra={"executor": executor.executor_id})
            executor.failure_reason = "REASON_EXECUTOR_REREGISTRATION_TIMEOUT"
            procs.kill_group(executor.pid)

    def _registration_timeout(self, executor: Executor) -> None:
        if executor.state is ExecutorState.REGISTERING and not self.dead:
            log.warning("Executor registration timeout", extra={"executor": executor.executor_id})
            executor.failure_reason = "REASON_EXECUTOR_REGISTRATION_TIMEOUT"
            procs.kill_group(executor.pid)

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
        if executor.state in (ExecutorState.TERMINATING, ExecutorState.TERMINATED):
            return
        was_running = executor.state is ExecutorState.RUNNING
        executor.state = ExecutorState.TERMINATING
        executor.shutdown_requested = True
        if was_running:
            self.deliver(executor, {"type": "SHUTDOWN"})
        grace = self._grace(executor) if was_running else 0.0
        loop = asyncio.get_running_loop()
        executor.kill_handle = loop.call_later(grace, self._destroy, executor)

    def _grace(self, executor: Executor) -> float:
        ns = (executor.info.get("shutdown_grace_period") or {}).get("nanoseconds")
        return float(ns) / 1e9 if ns is not None else self.master.timers.executor_shutdown_grace

    def _destroy(self, executor: Executor) -> None:
        if executor.hollow is not None:
            self.executor_exited(executor, status=9)
        else:
            procs.kill_group(executor.pid)

    def executor_exited(
        self, executor: Executor, *, status: int, reason: str | None = None
    ) -> None:
        """Reap: live tasks fail (with uuid, through their streams), then FAILURE to the master."""
        if executor.state is ExecutorState.TERMINATED:
            return
        executor.state = ExecutorState.TERMINATED
        if executor.kill_handle is not None:
            executor.kill_handle.cancel()
        if executor.stream is not None:
            executor.stream.close()
        procs.kill_group(executor.pid)
        self.exit_statuses.append(status)
        framework_alive = executor.framework_id in self.master.frameworks
        if framework_alive and not self.dead:
            state = executor.failure_state or (
                "TASK_KILLED" if executor.shutdown_requested else "TASK_FAILED"
            )
            for task in executor.live_tasks:
                self.agent_update(
                    task,
                    state,
                    message="Executor terminated",
                    reason=reason or executor.failure_reason or "REASON_EXECUTOR_TERMINATED",
                )
        self.executors.pop(executor.key, None)
        self.ledger.release(executor.resources)
        log.info("Executor exited", extra={"executor": executor.executor_id, "status": status})
        self.master.notify()
        if framework_alive and not self.dead:
            self.master.executor_lost(
                framework_id=executor.framework_id,
                agent_id=self.agent_id,
                executor_id=executor.executor_id,
                status=status,
            )

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
        for executor in list(self.executors.values()):
            procs.kill_group(executor.pid)  # first: a closed stream makes pymesos re-subscribe
            if executor.stream is not None:
                executor.stream.close()
        for task in self.tasks.values():
            self.updates.cancel(task)
        if self._spawns:
            await asyncio.wait(list(self._spawns), timeout=grace)
        await self.stop_http()

    async def leave(self) -> int:
        """Cluster exit keeping the executors (after the checkpoint was written): they see their
        agent go away and re-subscribe to the next cluster on the same port; nothing is killed
        or reported. Returns how many executor processes were left running."""
        self.dead = True
        await self.stop_http()
        for task in self.tasks.values():
            self.updates.cancel(task)
        for executor in self.executors.values():
            procs.detach(executor.pid, self._procs.get(executor.key))
            if executor.kill_handle is not None:
                executor.kill_handle.cancel()
            if executor.stream is not None:
                executor.stream.close()
        for job in list(self._spawns):
            job.cancel()
        await asyncio.gather(*self._spawns, return_exceptions=True)
        return sum(e.pid is not None for e in self.executors.values())
