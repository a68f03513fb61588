"""o2's Mesos v1 executor client over aiohttp: subscribe to the agent, reliable status updates,
messages. The only executor module that imports aiohttp; wire shapes live in mesosapi (pure).

Usage (the o2 executor program):

    client = ExecutorClient.from_environ()
    async with client:
        async for event in client.events():          # ends when the agent is gone or on close()
            match event:
                case Launch(): ...; await client.update(running_status)
                case Kill(): ...
                case Message(): ...
                case Shutdown(): ...                  # kill tasks, send their last updates,
                                                      # await wait_acknowledged(), then exit

Status updates are reliable: each gets a uuid and is kept until the agent sends ACKNOWLEDGED;
unacknowledged updates and tasks ride along on every re-SUBSCRIBE and are re-sent while
connected after `resend_after` seconds. When the agent goes away a checkpointing executor
re-subscribes with backoff (capped by MESOS_SUBSCRIPTION_BACKOFF_MAX) until
MESOS_RECOVERY_TIMEOUT runs out; a non-checkpointing one gives up at once, as Mesos' own do.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import ssl
import time
import uuid as uuidlib
from collections.abc import AsyncIterator, Callable, Mapping
from typing import ClassVar, Self

import aiohttp

from crds.errors import MesosCallError, MesosUnavailableError
from mesosapi.auth import bearer_authorization
from mesosapi.backoff import Backoff
from mesosapi.executor import (
    Acknowledged,
    ExecutorCall,
    ExecutorEnvironment,
    ExecutorEvent,
    Launch,
    LaunchGroup,
    MessageCall,
    Shutdown,
    SubscribeCall,
    Subscribed,
    UpdateCall,
    decode_event,
    encode_call,
)
from mesosapi.models import TaskId, TaskInfo, TaskStatus
from mesosapi.recordio import RecordIODecoder, decode_events

log = logging.getLogger(__name__)

API_PATH = "/api/v1/executor"


class Disconnected(ExecutorEvent):
    """Not from Mesos: the agent connection ended. `final` means the client gave up."""

    TYPE: ClassVar[str] = "DISCONNECTED"
    reason: str = ""
    final: bool = False


class _StreamEnded(Exception):
    pass


class ExecutorClient:
    """One executor's connection to its agent."""

    def __init__(
        self,
        env: ExecutorEnvironment,
        *,
        backoff: Backoff | None = None,
        resend_after: float = 10.0,
        call_timeout: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.env = env
        cap = max(env.subscription_backoff_max, 0.1)
        self._backoff = backoff or Backoff(initial=min(0.2, cap), maximum=cap)
        self._resend_after = resend_after
        self._call_timeout = call_timeout
        self._clock = clock
        self._url = env.agent_url + API_PATH
        self._headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if env.authentication_token:
            self._headers["Authorization"] = bearer_authorization(env.authentication_token)
        self._updates: dict[bytes, tuple[TaskStatus, float]] = {}
        self._tasks: dict[TaskId, TaskInfo] = {}
        self._queue: asyncio.Queue[ExecutorEvent | None] = asyncio.Queue()
        self._session: aiohttp.ClientSession | None = None
        self._runner: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()
        self._shutdown = False
        self._closing = False
        self._all_acked = asyncio.Event()
        self._all_acked.set()
        self.subscribe_attempts = 0

    @classmethod
    def from_environ(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        resend_after: float = 10.0,
        call_timeout: float = 10.0,
    ) -> Self:
        """A client configured by the MESOS_* variables the agent set; ValueError if absent."""
        env = ExecutorEnvironment.from_env(os.environ if environ is None else environ)
        return cls(env, resend_after=resend_after, call_timeout=call_timeout)

    # ---- lifecycle ------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def start(self) -> None:
        if self._runner is None:
            tls: ssl.SSLContext | bool = True
            if self._url.startswith("https://"):
                tls = ssl.create_default_context(cafile=self.env.ca_file)
            connector = aiohttp.TCPConnector(limit=16, ssl=tls)
            self._session = aiohttp.ClientSession(connector=connector)
            self._runner = asyncio.create_task(self._run(), name="mesos-executor-subscription")

    async def close(self) -> None:
        self._closing = True
        if self._runner is not None:
            self._runner.cancel()
            await asyncio.gather(self._runner, return_exceptions=True)
            self._runner = None
        if self._session is not None:
            await self._session.close()
            self._session = None
        self._queue.put_nowait(None)

    async def events(self) -> AsyncIterator[ExecutorEvent]:
        """Typed events; ends when the agent closes after SHUTDOWN, on giving up, or close()."""
        while True:
            event = await self._queue.get()
            if event is None:
                return
            yield event

    @property
    def connected(self) -> bool:
        return self._subscribed.is_set()

    async def wait_subscribed(self) -> None:
        await self._subscribed.wait()

    async def wait_acknowledged(self) -> None:
        """Block until the agent acknowledged every update sent so far (bound it with
        `asyncio.timeout()`); the executor's last step before exiting after SHUTDOWN."""
        await self._all_acked.wait()

    @property
    def unacknowledged_updates(self) -> list[TaskStatus]:
        return [status for status, _ in self._updates.values()]

    @property
    def unacknowledged_tasks(self) -> list[TaskInfo]:
        return list(self._tasks.values())

    # ---- subscription ---------------------------------------------------------------------

    async def _run(self) -> None:
        lost_at: float | None = None
        try:
            while not self._shutdown and not self._closing:
                reason = await self._subscribe_once()
                was_subscribed = self._subscribed.is_set()
                self._subscribed.clear()
                if self._shutdown:
                    return
                if was_subscribed:
                    lost_at = self._clock()
                    self._backoff.reset()
                elif lost_at is None:
                    lost_at = self._clock()
                if not self.env.checkpoint or (
                    self._clock() - lost_at >= self.env.recovery_timeout
                ):
                    self._queue.put_nowait(Disconnected(reason=reason, final=True))
                    log.warning("Giving up on the Mesos agent", extra={"reason": reason})
                    return
                self._queue.put_nowait(Disconnected(reason=reason))
                await asyncio.sleep(self._backoff.next_delay())
        finally:
            self._queue.put_nowait(None)

    async def _subscribe_once(self) -> str:
        try:
            await self._subscribe()
            return "stream closed by agent"
        except _StreamEnded as exc:
            return str(exc)
        except (aiohttp.ClientError, OSError, TimeoutError, ValueError) as exc:
            return f"{type(exc).__name__}: {exc}"
        except Exception as exc:  # the loop must survive anything: log it and back off
            log.exception("Unexpected error in the agent subscription")
            return f"{type(exc).__name__}: {exc}"

    def _body(self, call: ExecutorCall) -> str:
        return json.dumps(
            encode_call(call, framework_id=self.env.framework_id, executor_id=self.env.executor_id)
        )

    async def _subscribe(self) -> None:
        assert self._session is not None
        self.subscribe_attempts += 1
        call = SubscribeCall(
            unacknowledged_tasks=self.unacknowledged_tasks,
            unacknowledged_updates=[UpdateCall(status=s) for s in self.unacknowledged_updates],
        )
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=self._call_timeout)
        request = self._session.post(
            self._url, data=self._body(call), headers=self._headers, timeout=timeout
        )
        async with asyncio.timeout(self._call_timeout):
            resp = await request
        async with resp:
            if resp.status != 200:
                text = await resp.text()
                raise _StreamEnded(f"SUBSCRIBE refused: HTTP {resp.status} {text[:200]}")
            await self._pump(resp)

    async def _pump(self, resp: aiohttp.ClientResponse) -> None:
        decoder = RecordIODecoder()
        last_check = self._clock()
        while True:
            try:
                async with asyncio.timeout(self._resend_after):
                    chunk = await resp.content.readany()
            except TimeoutError:
                chunk = None
            if self._clock() - last_check >= self._resend_after:
                last_check = self._clock()
                await self._resend_stale()
            if chunk is None:
                continue
            if not chunk:
                return
            for event in decode_events(decoder, chunk, decode_event):
                self._dispatch(event)

    def _dispatch(self, event: ExecutorEvent) -> None:
        if isinstance(event, Subscribed):
            self._subscribed.set()
            for status, _ in self._updates.values():
                self._updates[status.uuid or b""] = (status, self._clock())
        elif isinstance(event, Launch):
            self._tasks[event.task.task_id] = event.task
        elif isinstance(event, LaunchGroup):
            for task in event.task_group.tasks:
                self._tasks[task.task_id] = task
        elif isinstance(event, Acknowledged):
            self._updates.pop(event.uuid, None)
            self._tasks.pop(event.task_id, None)
            if not self._updates:
                self._all_acked.set()
        elif isinstance(event, Shutdown):
            self._shutdown = True
        self._queue.put_nowait(event)

    # ---- calls ----------------------------------------------------------------------------

    async def _post(self, call: ExecutorCall) -> None:
        if self._session is None or not self._subscribed.is_set():
            raise MesosUnavailableError(f"cannot send {call.TYPE}: not subscribed to the agent")
        timeout = aiohttp.ClientTimeout(total=self._call_timeout)
        try:
            async with self._session.post(
                self._url, data=self._body(call), headers=self._headers, timeout=timeout
            ) as resp:
                if resp.status >= 300:
                    text = await resp.text()
                    raise MesosCallError(call.TYPE, status=resp.status, body=text)
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise MesosUnavailableError(f"{call.TYPE} to the agent failed: {exc}") from exc

    async def update(self, status: TaskStatus) -> TaskStatus:
        """Send a status update reliably; returns it with its uuid, source and timestamp.

        Never raises for a lost or failing agent: the update is kept and re-sent until the
        agent acknowledges it. MesosCallError (update dropped) when the agent rejects it as
        invalid (4xx other than 403).
        """
        stamped = status.model_copy(
            update={
                "uuid": status.uuid or uuidlib.uuid4().bytes,
                "timestamp": status.timestamp or time.time(),
                "source": "SOURCE_EXECUTOR",
                "executor_id": self.env.executor_id,
            }
        )
        assert stamped.uuid is not None
        self._updates[stamped.uuid] = (stamped, self._clock())
        self._all_acked.clear()
        try:
            await self._post(UpdateCall(status=stamped))
        except MesosUnavailableError as exc:
            log.info(
                "Status update kept for re-send",
                extra={"task": status.task_id, "error": str(exc)},
            )
        except MesosCallError as exc:
            if 400 <= exc.status < 500 and exc.status != 403:
                self._updates.pop(stamped.uuid, None)
                raise
            log.info("Status update kept for re-send", extra={"error": str(exc)})
        return stamped

    async def message(self, data: bytes) -> None:
        """Best-effort framework message to the scheduler (Mesos may drop it)."""
        await self._post(MessageCall(data=data))

    async def _resend_stale(self) -> None:
        now = self._clock()
        for key, (status, sent) in list(self._updates.items()):
            if now - sent < self._resend_after:
                continue
            self._updates[key] = (status, now)
            try:
                await self._post(UpdateCall(status=status))
            except (MesosUnavailableError, MesosCallError) as exc:
                log.info("Re-send of status update failed", extra={"error": str(exc)})
                return
