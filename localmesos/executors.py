"""An agent's executors from start to reaping, as a Mesos agent runs them.

Start (a hollow executor at once, a real one as a process in its sandbox that must SUBSCRIBE
within the registration timeout), adopt one a previous cluster left running (it must
re-subscribe within the recovery timeout), shut one down (SHUTDOWN, then the kill after its
grace period), and reap it: its live tasks fail, the master hears FAILURE. The processes
themselves are localmesos.procs'; the tasks' updates go through the agent.
"""

from __future__ import annotations

import asyncio
import logging
import subprocess
import uuid
from typing import TYPE_CHECKING

from localmesos import procs
from localmesos.hollow import HollowExecutor
from localmesos.model import Executor, ExecutorState, Framework, Json
from localmesos.resources import Resources

if TYPE_CHECKING:
    from localmesos.agent import Agent

log = logging.getLogger(__name__)


class ExecutorLifecycle:
    """Starts, adopts, times out, shuts down and reaps the executors of one agent."""

    def __init__(self, agent: Agent) -> None:
        self._agent = agent
        self._spawns: set[asyncio.Task[None]] = set()
        self._procs: dict[tuple[str, str], subprocess.Popen[bytes]] = {}

    def start(self, fw: Framework, info: Json) -> Executor:
        """A new executor in its own sandbox: a hollow one RUNNING at once, a real one spawned
        (REGISTERING until it subscribes)."""
        container_id = str(uuid.uuid4())
        eid = str(info["executor_id"]["value"])
        sandbox = (
            self._agent.work_dir
            / "slaves"
            / self._agent.agent_id
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
            agent_id=self._agent.agent_id,
            info=info,
            resources=Resources.from_json(info.get("resources")),
            container_id=container_id,
            directory=str(sandbox),
        )
        self._agent.executors[executor.key] = executor
        self._agent.ledger.claim(executor.resources)
        if self._agent.hollow:
            executor.hollow = HollowExecutor(self._agent, executor, responder=self._agent.responder)
            executor.state = ExecutorState.RUNNING
        else:
            self._track(asyncio.get_running_loop().create_task(self._spawn(fw, executor)))
        log.info(
            "Launching executor",
            extra={"agent": self._agent.agent_id, "executor": eid, "framework": fw.framework_id},
        )
        return executor

    async def _spawn(self, fw: Framework, executor: Executor) -> None:
        timers = self._agent.master.timers
        try:
            proc = procs.spawn(
                executor, fw_info=fw.info, agent=self._agent, grace=self._grace(executor)
            )
        except OSError as exc:
            log.error(
                "Executor failed to start",
                extra={"executor": executor.executor_id, "error": str(exc)},
            )
            self.exited(executor, status=127 << 8, reason="REASON_EXECUTOR_TERMINATED")
            return
        executor.pid = proc.pid
        self._procs[executor.key] = proc
        if self._agent.dead or executor.state is ExecutorState.TERMINATED:
            procs.kill_group(proc.pid)
        loop = asyncio.get_running_loop()
        loop.call_later(timers.executor_registration_timeout, self._registration_timeout, executor)
        try:
            status = await procs.wait(proc)
        finally:
            self._procs.pop(executor.key, None)
        self.exited(executor, status=status)

    def _track(self, job: asyncio.Task[None]) -> None:
        self._spawns.add(job)
        job.add_done_callback(self._spawns.discard)

    def adopt(self, executor: Executor) -> None:
        """An executor the previous cluster left running (same pid, not necessarily our child):
        it must re-subscribe within the recovery timeout, and is reaped when it exits."""
        self._agent.executors[executor.key] = executor
        if executor.pid is None:  # it did not outlive the cluster restart
            self.exited(executor, status=0, reason="REASON_EXECUTOR_TERMINATED")
            return
        procs.adopt(executor.pid)
        self.expect_resubscription(executor)
        self._track(asyncio.get_running_loop().create_task(self._reap_adopted(executor)))

    async def _reap_adopted(self, executor: Executor) -> None:
        assert executor.pid is not None
        status = await procs.wait_adopted(executor.pid)
        self.exited(executor, status=status)

    def expect_resubscription(self, executor: Executor) -> None:
        """Mesos agent recovery: the executor lives on and must SUBSCRIBE again within the
        recovery timeout, else it is killed (its tasks fail, REREGISTRATION_TIMEOUT)."""
        executor.state = ExecutorState.RECOVERING
        timeout = self._agent.master.timers.executor_recovery_timeout
        asyncio.get_running_loop().call_later(timeout, self._recovery_timeout, executor)

    def _recovery_timeout(self, executor: Executor) -> None:
        if executor.state is ExecutorState.RECOVERING and not self._agent.dead:
            log.warning("Executor did not re-subscribe", extra={"executor": executor.executor_id})
            executor.failure_reason = "REASON_EXECUTOR_REREGISTRATION_TIMEOUT"
            procs.kill_group(executor.pid)

    def _registration_timeout(self, executor: Executor) -> None:
        if executor.state is ExecutorState.REGISTERING and not self._agent.dead:
            log.warning("Executor registration timeout", extra={"executor": executor.executor_id})
            executor.failure_reason = "REASON_EXECUTOR_REGISTRATION_TIMEOUT"
            procs.kill_group(executor.pid)

    def shutdown(self, executor: Executor) -> None:
        """SHUTDOWN to a running executor, then the kill after its grace period (at once for
        one that is not running yet)."""
        if executor.state in (ExecutorState.TERMINATING, ExecutorState.TERMINATED):
            return
        was_running = executor.state is ExecutorState.RUNNING
        executor.state = ExecutorState.TERMINATING
        executor.shutdown_requested = True
        if was_running:
            self._agent.deliver(executor, {"type": "SHUTDOWN"})
        grace = self._grace(executor) if was_running else 0.0
        loop = asyncio.get_running_loop()
        executor.kill_handle = loop.call_later(grace, self._destroy, executor)

    def _grace(self, executor: Executor) -> float:
        ns = (executor.info.get("shutdown_grace_period") or {}).get("nanoseconds")
        default = self._agent.master.timers.executor_shutdown_grace
        return float(ns) / 1e9 if ns is not None else default

    def _destroy(self, executor: Executor) -> None:
        if executor.hollow is not None:
            self.exited(executor, status=9)
        else:
            procs.kill_group(executor.pid)

    def exited(self, executor: Executor, *, status: int, reason: str | None = None) -> None:
        """Reap: live tasks fail (with uuid, through their streams), then FAILURE to the master."""
        if executor.state is ExecutorState.TERMINATED:
            return
        executor.state = ExecutorState.TERMINATED
        if executor.kill_handle is not None:
            executor.kill_handle.cancel()
        if executor.stream is not None:
            executor.stream.close()
        procs.kill_group(executor.pid)
        self._agent.exit_statuses.append(status)
        framework_alive = executor.framework_id in self._agent.master.frameworks
        if framework_alive and not self._agent.dead:
            state = executor.failure_state or (
                "TASK_KILLED" if executor.shutdown_requested else "TASK_FAILED"
            )
            for task in executor.live_tasks:
                self._agent.agent_update(
                    task,
                    state,
                    message="Executor terminated",
                    reason=reason or executor.failure_reason or "REASON_EXECUTOR_TERMINATED",
                )
        self._agent.executors.pop(executor.key, None)
        self._agent.ledger.release(executor.resources)
        log.info("Executor exited", extra={"executor": executor.executor_id, "status": status})
        self._agent.master.notify()
        if framework_alive and not self._agent.dead:
            self._agent.master.executor_lost(
                framework_id=executor.framework_id,
                agent_id=self._agent.agent_id,
                executor_id=executor.executor_id,
                status=status,
            )

    def kill_all(self) -> None:
        """Cluster stop: kill every executor's process group (nothing is reported)."""
        for executor in list(self._agent.executors.values()):
            procs.kill_group(executor.pid)  # first: a closed stream makes pymesos re-subscribe
            if executor.stream is not None:
                executor.stream.close()

    async def wait_spawns(self, *, grace: float) -> None:
        """Wait (up to `grace` seconds) for the executor processes started here to be reaped."""
        if self._spawns:
            await asyncio.wait(list(self._spawns), timeout=grace)

    async def leave(self) -> int:
        """Cluster exit keeping the executors: detach every process, close every stream, stop
        watching them. Returns how many executor processes were left running."""
        executors = self._agent.executors
        for executor in executors.values():
            procs.detach(executor.pid, self._procs.get(executor.key))
            if executor.kill_handle is not None:
                executor.kill_handle.cancel()
            if executor.stream is not None:
                executor.stream.close()
        for job in list(self._spawns):
            job.cancel()
        await asyncio.gather(*self._spawns, return_exceptions=True)
        return sum(e.pid is not None for e in executors.values())
