"""Hollow executors: simulated in-process, behind a pluggable responder hook (as kubemark).

A hollow agent gives each executor a `HollowContext` and a responder made by a
`ResponderFactory` (a zero-argument callable, e.g. a class). The agent calls the responder on
every event the executor would get; the responder answers through the context exactly as an
executor would over HTTP (status updates with uuids, framework messages, exit):

    class EchoResponder(DefaultResponder):
        def on_message(self, ctx: HollowContext, data: bytes) -> None:
            ctx.send_message(b"echo:" + data)

    LocalCluster(hollow_agents=50, hollow_responder=EchoResponder)
    python -m localmesos --hollow-agents 50 --hollow-responder mypkg.module:EchoResponder

Callbacks are synchronous and run on the cluster's event loop: keep them short, and use
`ctx.call_later` (or `asyncio.create_task`) for anything that takes time.
"""

from __future__ import annotations

import asyncio
import base64
import importlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from localmesos import executor_api
from localmesos.model import TERMINAL_STATES, Executor, ExecutorState, Json, new_uuid_b64, now

if TYPE_CHECKING:
    from localmesos.agent import Agent

log = logging.getLogger(__name__)


class HollowContext:
    """What a responder may see and do: the executor's identity, its live tasks, and replies."""

    def __init__(self, agent: Agent, executor: Executor) -> None:
        self._agent = agent
        self._executor = executor
        self.executor_id = executor.executor_id
        self.framework_id = executor.framework_id
        self.agent_id = agent.agent_id
        self.hostname = agent.spec.hostname
        self.attributes = dict(agent.spec.attributes)
        self.executor_info = executor.info
        self.delay = agent.master.timers.hollow_executor_delay
        self.tasks: dict[str, Json] = {}  # live TaskInfos by task id

    @property
    def alive(self) -> bool:
        return self._executor.state is not ExecutorState.TERMINATED and not self._agent.dead

    def call_later(self, delay: float, fn: Callable[..., Any], *args: Any) -> None:
        loop = asyncio.get_running_loop()
        if delay > 0:
            loop.call_later(delay, fn, *args)
        else:
            loop.call_soon(fn, *args)

    def update(
        self,
        task_id: str,
        state: str,
        *,
        message: str | None = None,
        reason: str | None = None,
        data: bytes | None = None,
        after: float | None = None,
    ) -> None:
        """Send a status update for a task (after `after` seconds; default: the agent's delay)."""
        self.call_later(
            self.delay if after is None else after,
            self._update_now,
            task_id,
            state,
            message,
            reason,
            data,
        )

    def _update_now(
        self, task_id: str, state: str, message: str | None, reason: str | None, data: bytes | None
    ) -> None:
        if not self.alive:
            return
        status: Json = {
            "task_id": {"value": task_id},
            "state": state,
            "uuid": new_uuid_b64(),
            "source": "SOURCE_EXECUTOR",
            "timestamp": now(),
        }
        if message is not None:
            status["message"] = message
        if reason is not None:
            status["reason"] = reason
        if data is not None:
            status["data"] = base64.b64encode(data).decode()
        if state in TERMINAL_STATES:
            self.tasks.pop(task_id, None)
        executor_api.apply_update(self._agent, self._executor, status)

    def send_message(self, data: bytes, *, after: float | None = None) -> None:
        """A framework message from this executor to its scheduler (best effort)."""
        self.call_later(self.delay if after is None else after, self._message_now, data)

    def _message_now(self, data: bytes) -> None:
        if self.alive:
            encoded = base64.b64encode(data).decode()
            executor_api.send_framework_message(self._agent, self._executor, encoded)

    def exit(self, status: int = 0) -> None:
        """The simulated executor process exits with this raw wait status."""
        self.call_later(0, lambda: self._agent.executor_exited(self._executor, status=status))


class HollowResponder(Protocol):
    def on_launch(self, ctx: HollowContext, task: Json) -> None: ...
    def on_kill(self, ctx: HollowContext, task_id: str) -> None: ...
    def on_message(self, ctx: HollowContext, data: bytes) -> None: ...
    def on_shutdown(self, ctx: HollowContext) -> None: ...


ResponderFactory = Callable[[], HollowResponder]


class DefaultResponder:
    """Behaves like a well-mannered custom executor: RUNNING after launch, KILLED on kill,
    kills everything and exits on SHUTDOWN; framework messages are ignored."""

    def on_launch(self, ctx: HollowContext, task: Json) -> None:
        ctx.update(str(task["task_id"]["value"]), "TASK_RUNNING")

    def on_kill(self, ctx: HollowContext, task_id: str) -> None:
        if task_id in ctx.tasks:
            ctx.update(task_id, "TASK_KILLED")

    def on_message(self, ctx: HollowContext, data: bytes) -> None:
        return None

    def on_shutdown(self, ctx: HollowContext) -> None:
        for task_id in list(ctx.tasks):
            ctx.update(task_id, "TASK_KILLED", after=0)
        ctx.call_later(0, ctx.exit, 0)


class HollowExecutor:
    """Routes the events an executor would receive to its responder."""

    def __init__(
        self, agent: Agent, executor: Executor, *, responder: ResponderFactory | None
    ) -> None:
        self.ctx = HollowContext(agent, executor)
        self.responder: HollowResponder = (responder or DefaultResponder)()

    def handle(self, event: Json) -> None:
        kind = event.get("type")
        try:
            if kind == "LAUNCH":
                self._launch(event["launch"]["task"])
            elif kind == "LAUNCH_GROUP":
                for task in event["launch_group"]["task_group"]["tasks"]:
                    self._launch(task)
            elif kind == "KILL":
                self.responder.on_kill(self.ctx, str(event["kill"]["task_id"]["value"]))
            elif kind == "MESSAGE":
                data = base64.b64decode(event["message"].get("data", ""))
                self.responder.on_message(self.ctx, data)
            elif kind == "SHUTDOWN":
                self.responder.on_shutdown(self.ctx)
        except Exception:
            log.exception(
                "Hollow responder failed", extra={"event": kind, "executor": self.ctx.executor_id}
            )

    def _launch(self, task: Json) -> None:
        self.ctx.tasks[str(task["task_id"]["value"])] = task
        self.responder.on_launch(self.ctx, task)


def load_responder(spec: str) -> ResponderFactory:
    """`package.module:attribute` -> a responder factory (for --hollow-responder)."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ValueError(f"--hollow-responder {spec!r}: expected 'package.module:attribute'")
    factory = getattr(importlib.import_module(module_name), attr)
    if not callable(factory):
        raise ValueError(f"--hollow-responder {spec!r} is not callable")
    return factory  # type: ignore[no-any-return]
