"""The o2 executor's event loop: Mesos executor events in, TaskRunner calls, UPDATEs/MESSAGEs out.

One executor per agent and framework hosts every o2 task on that agent. It stays up while it
has no tasks (the controller launches more into it) and ends only on SHUTDOWN, SIGTERM/SIGINT,
or when the agent is gone past the recovery timeout:

    LAUNCH / LAUNCH_GROUP -> TaskRunner.launch_task_info (sandbox <MESOS_DIRECTORY>/<task id>)
    every StatusUpdate     -> one reliable UPDATE, in order (data: TaskStatusData JSON)
    MESSAGE                -> TaskRunner.handle_message -> one MESSAGE reply (ControlResults or
                              TaskTableReport), each message handled concurrently
    DeviceEvent            -> MESSAGE (END_OF_STREAM, INTERNAL_ERROR)
    SUBSCRIBED, timer      -> MESSAGE TaskTableReport (every `report_interval` while subscribed)
    KILL                   -> the kill ladder (SIGTERM grace from the KillPolicy when given),
                              then TASK_KILLED (at once for a task this executor never had)
    SHUTDOWN / signal      -> kill ladder for all within most of the grace period, then SIGKILL,
                              flush the last UPDATEs, wait for their ACKs, exit 0
    agent gone for good    -> same kill, exit 1 (Mesos cannot hand our tasks to anyone else)
Terminal tasks are dropped from the table once Mesos acknowledged their last update.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Coroutine
from typing import Any

from crds.errors import MesosCallError, MesosUnavailableError
from executor.launch import StatusUpdate
from executor.mesos import Disconnected, ExecutorClient
from executor.runtime import TaskRunner
from executor.settings import ExecutorSettings, task_dir_problem
from mesosapi.executor import (
    Acknowledged,
    Error,
    ExecutorEvent,
    Kill,
    Launch,
    LaunchGroup,
    Message,
    Shutdown,
    Subscribed,
)
from mesosapi.models import TERMINAL_STATES, TaskId, TaskInfo, TaskStatus
from mesosapi.o2messages import DeviceEventMessage, TaskStatusData, encode

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_FAILED = 1
"""The agent is gone past the recovery timeout, or the executor itself broke."""
EXIT_AGENT_LOST = EXIT_FAILED
EXIT_USAGE = 2


def status_reason(update: StatusUpdate, *, was_running: bool) -> str | None:
    """The Mesos `reason` of an update: why a task failed or was killed (None otherwise)."""
    if update.reason:
        return update.reason
    if update.state == "TASK_FAILED":
        if update.pid is None or not was_running:
            return "REASON_CONTAINER_LAUNCH_FAILED"
        return "REASON_COMMAND_EXECUTOR_FAILED"
    if update.state == "TASK_KILLED" and not was_running:
        return "REASON_TASK_KILLED_DURING_LAUNCH"
    return None


def memory_limit(task: TaskInfo) -> float | None:
    """TaskInfo.limits `mem` in MB, when set and finite."""
    scalar = (task.limits or {}).get("mem")
    if scalar is None or not math.isfinite(scalar.value) or scalar.value <= 0:
        return None
    return scalar.value


def kill_grace(event: Kill) -> float | None:
    """The KillPolicy grace period of a KILL in seconds (SIGTERM -> SIGKILL), if it has one."""
    policy = event.kill_policy
    if policy is None or policy.grace_period is None:
        return None
    return max(policy.grace_period.nanoseconds / 1e9, 0.0)


def to_mesos_status(update: StatusUpdate, *, was_running: bool) -> TaskStatus:
    """A runtime StatusUpdate as the TaskStatus sent to Mesos (uuid etc. added by the client)."""
    data = TaskStatusData(
        state=update.occ_state, pid=update.pid, exit_code=update.exit_code, signal=update.signal
    )
    return TaskStatus(
        task_id=TaskId(update.task_id),
        state=update.state,
        message=update.message or None,
        reason=status_reason(update, was_running=was_running),
        data=encode(data),
    )


class ExecutorApp:
    """Connects one ExecutorClient (the agent) to one TaskRunner (the processes)."""

    def __init__(self, client: ExecutorClient, settings: ExecutorSettings) -> None:
        self.client = client
        self.settings = settings
        self.runner = TaskRunner(
            on_status=self._on_status, on_event=self._on_event, timeouts=settings.timeouts
        )
        self._outbox: asyncio.Queue[TaskStatus] = asyncio.Queue()
        self._ran: set[str] = set()
        self._terminal_uuids: dict[bytes, str] = {}
        self._background: set[asyncio.Task[None]] = set()
        self._stop = asyncio.Event()

    def request_stop(self) -> None:
        """SIGTERM/SIGINT: shut down as on SHUTDOWN."""
        self._stop.set()

    async def run(self) -> int:
        """Serve until SHUTDOWN, a stop request or the agent's loss; the exit code."""
        loop = asyncio.get_running_loop()
        helpers = [
            loop.create_task(self._send_updates(), name="o2-executor-updates"),
            loop.create_task(self._report_periodically(), name="o2-executor-reports"),
        ]
        consumer = loop.create_task(self._consume(), name="o2-executor-events")
        stopper = loop.create_task(self._stop.wait())
        try:
            await asyncio.wait({consumer, stopper}, return_when=asyncio.FIRST_COMPLETED)
            if consumer.done():
                if consumer.exception() is None:
                    return consumer.result()
                log.error("Event loop crashed: killing every task", exc_info=consumer.exception())
                return await self._terminate(EXIT_FAILED)
            consumer.cancel()
            await asyncio.gather(consumer, return_exceptions=True)
            log.info("Stop requested: killing every task")
            return await self._terminate(EXIT_OK)
        finally:
            stopper.cancel()
            for task in [*helpers, *self._background]:
                task.cancel()
            await asyncio.gather(*helpers, *self._background, stopper, return_exceptions=True)

    # ---- events ---------------------------------------------------------------------------

    async def _consume(self) -> int:
        async for event in self.client.events():
            try:
                code = await self._handle(event)
            except Exception:  # one bad event must not take down every task on the agent
                log.exception("Handling an agent event failed", extra={"event": event.TYPE})
                continue
            if code is not None:
                return code
        log.info("Event stream ended")
        return await self._terminate(EXIT_OK)

    async def _handle(self, event: ExecutorEvent) -> int | None:
        if isinstance(event, Subscribed):
            log.info("Subscribed to the agent", extra={"agent": event.agent_info.hostname})
            self._spawn(self._send_report(subscribed=True))
        elif isinstance(event, Launch):
            await self._launch(event.task)
        elif isinstance(event, LaunchGroup):
            for task in event.task_group.tasks:
                await self._launch(task)
        elif isinstance(event, Kill):
            self._spawn(self._kill(event.task_id, grace=kill_grace(event)))
        elif isinstance(event, Message):
            self._spawn(self._answer(event.data))
        elif isinstance(event, Acknowledged):
            self._forget_acknowledged(event.uuid)
        elif isinstance(event, Shutdown):
            log.info("SHUTDOWN from the agent: killing every task")
            return await self._terminate(EXIT_OK)
        elif isinstance(event, Error):
            log.error("Error from the agent", extra={"error": event.message})
        elif isinstance(event, Disconnected):
            if event.final:
                log.error("Agent gone past the recovery timeout", extra={"reason": event.reason})
                return await self._terminate(EXIT_AGENT_LOST)
            log.warning("Disconnected from the agent", extra={"reason": event.reason})
        return None

    def _spawn(self, job: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(job)
        self._background.add(task)
        task.add_done_callback(self._reap)

    def _reap(self, task: asyncio.Task[None]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("Background job failed", exc_info=task.exception())

    async def _launch(self, task: TaskInfo) -> None:
        task_id = str(task.task_id)
        problem = task_dir_problem(task_id)
        if problem:
            self._fail_launch(task.task_id, problem, reason="REASON_TASK_INVALID")
            return
        log.info("Launching task", extra={"task": task_id, "task_name": task.name})
        try:
            await self.runner.launch_task_info(
                task_id,
                task.data or b"",
                sandbox_root=self.settings.sandbox_root,
                memory_limit_mb=memory_limit(task),
            )
        except Exception as exc:  # e.g. the sandbox cannot be created: fail this task only
            log.exception("Launch failed", extra={"task": task_id})
            if self.runner.table.get(task_id) is not None:
                self.runner.table.mark_exited(
                    task_id, exit_code=None, signal=None, message=str(exc)
                )
            self._fail_launch(task.task_id, f"cannot launch: {exc!r}")

    def _fail_launch(
        self, task_id: TaskId, message: str, *, reason: str = "REASON_CONTAINER_LAUNCH_FAILED"
    ) -> None:
        status = TaskStatus(task_id=task_id, state="TASK_FAILED", message=message, reason=reason)
        self._outbox.put_nowait(status)

    async def _kill(self, task_id: TaskId, *, grace: float | None) -> None:
        if self.runner.table.get(task_id) is None:
            log.warning("KILL for a task this executor does not have", extra={"task": task_id})
            self._outbox.put_nowait(
                TaskStatus(
                    task_id=task_id,
                    state="TASK_KILLED",
                    message="not known to this executor",
                    reason="REASON_TASK_UNKNOWN",
                )
            )
            return
        log.info("Killing task", extra={"task": task_id, "grace": grace})
        await self.runner.kill(task_id, grace=grace)

    async def _answer(self, data: bytes) -> None:
        reply = await self.runner.handle_message(data)
        if reply is not None:
            await self._send_message(reply)

    # ---- statuses -------------------------------------------------------------------------

    def _on_status(self, update: StatusUpdate) -> None:
        if update.state == "TASK_RUNNING":
            self._ran.add(update.task_id)
        was_running = update.task_id in self._ran
        self._outbox.put_nowait(to_mesos_status(update, was_running=was_running))

    async def _send_updates(self) -> None:
        """One sender, so a task's updates reach Mesos in the order they happened."""
        while True:
            status = await self._outbox.get()
            try:
                stamped = await self.client.update(status)
            except MesosCallError as exc:
                log.error("Agent rejected a status update", extra={"error": str(exc)})
            except Exception:  # the sender must outlive any one bad update
                log.exception("Sending a status update failed", extra={"task": status.task_id})
            else:
                if status.state in TERMINAL_STATES and stamped.uuid is not None:
                    self._terminal_uuids[stamped.uuid] = str(status.task_id)
            finally:
                self._outbox.task_done()

    def _forget_acknowledged(self, uuid: bytes) -> None:
        task_id = self._terminal_uuids.pop(uuid, None)
        if task_id is None:
            return
        self._ran.discard(task_id)
        try:
            self.runner.forget(task_id)
        except ValueError:
            log.warning("Terminal update acknowledged while still running", extra={"task": task_id})

    # ---- messages -------------------------------------------------------------------------

    def _on_event(self, event: DeviceEventMessage) -> None:
        log.info("Device event", extra={"task": event.task_id, "event": event.event})
        self._spawn(self._send_message(encode(event)))

    async def _send_message(self, data: bytes) -> None:
        """Best effort (framework messages are at-most-once; the controller retries)."""
        try:
            await self.client.message(data)
        except (MesosUnavailableError, MesosCallError) as exc:
            log.warning("Dropped a message to the scheduler", extra={"error": str(exc)})

    async def _send_report(self, *, subscribed: bool = False) -> None:
        report = self.runner.report()
        if subscribed:  # the controller resends what it sent while we were not subscribed
            report = report.model_copy(update={"subscribed": True})
        await self._send_message(encode(report))

    async def _report_periodically(self) -> None:
        while True:
            await asyncio.sleep(self.settings.report_interval)
            if self.client.connected:
                await self._send_report()

    # ---- the end --------------------------------------------------------------------------

    async def _terminate(self, code: int) -> int:
        """Kill every task (ladder, then SIGKILL when the budget runs out), send the final
        updates, wait (bounded) for their acknowledgements; returns `code`."""
        budget = self.settings.shutdown_budget
        try:
            async with asyncio.timeout(budget):
                await self.runner.close()
        except TimeoutError:
            log.warning("Kill ladder over budget: SIGKILL to every task", extra={"budget": budget})
            await self.runner.abort()
        left = max(self.settings.mesos.shutdown_grace_period - budget, 0.5)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(left):
                await self._outbox.join()
                if self.client.connected:
                    await self.client.wait_acknowledged()
        log.info("Executor exiting", extra={"code": code})
        return code
