"""o2's Mesos v1 scheduler client over aiohttp: subscription, reconnects, calls. The only
controller module that imports aiohttp; wire shapes live in mesosapi (pure).

Usage (the task controller):

    client = SchedulerClient(["127.0.0.1:5050"], framework_info(...), framework_id=stored_id)
    async with client:
        async for event in client.events():
            match event:
                case Subscribed(): ...      # store client.framework_id, reconcile
                case Offers(): await client.launch(...)
                case Update(): ...; await client.acknowledge(event.status)
                case Disconnected(): ...    # offers are void; calls raise until re-subscribed

Events keep flowing across reconnects: the client re-subscribes by itself (backoff + jitter,
never a tight loop) when the stream ends, breaks, errors or goes silent for
`heartbeat_misses` heartbeat intervals. A slow or failing consumer never breaks the client.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from typing import ClassVar, Self

import aiohttp
import pydantic

from crds.errors import MesosCallError, MesosUnavailableError
from mesosapi.backoff import Backoff
from mesosapi.models import (
    AgentId,
    DurationInfo,
    ExecutorId,
    Filters,
    FrameworkId,
    FrameworkInfo,
    KillPolicy,
    OfferId,
    Operation,
    TaskId,
    TaskInfo,
    TaskStatus,
)
from mesosapi.recordio import RecordIODecoder
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
    SchedulerEvent,
    Shutdown,
    Subscribe,
    Subscribed,
    Suppress,
    Teardown,
    decode_event,
    encode_call,
)

log = logging.getLogger(__name__)

API_PATH = "/api/v1/scheduler"
_MAX_REDIRECTS = 4


class Disconnected(SchedulerEvent):
    """Not from Mesos: the subscription ended; outstanding offers are void until re-subscribed."""

    TYPE: ClassVar[str] = "DISCONNECTED"
    reason: str = ""


class _StreamEnded(Exception):
    """Internal: the subscription stream ended (closed, refused, silent or broken)."""


def _leader_from_location(location: str, current: str) -> str:
    """The `host:port` a 307 points at (Mesos sends `//host:port/...`)."""
    loc = location.strip()
    if loc.startswith("//"):
        loc = "http:" + loc
    netloc = loc.split("://", 1)[1].split("/", 1)[0] if "://" in loc else ""
    return netloc or current


class SchedulerClient:
    """One framework's connection to the Mesos master (or one of several masters)."""

    def __init__(
        self,
        masters: str | Sequence[str],
        framework: FrameworkInfo,
        *,
        framework_id: FrameworkId | None = None,
        heartbeat_misses: float = 3.0,
        backoff: Backoff | None = None,
        stable_after: float = 10.0,
        call_timeout: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._masters = [masters] if isinstance(masters, str) else list(masters)
        if not self._masters:
            raise ValueError("no Mesos master given")
        self._framework = framework
        self._framework_id: FrameworkId | None = framework_id or framework.id
        self._heartbeat_misses = heartbeat_misses
        self._backoff = backoff or Backoff()
        self._stable_after = stable_after
        self._call_timeout = call_timeout
        self._clock = clock
        self._leader = self._masters[0]
        self._master_index = 0
        self._stream_id: str | None = None
        self._heartbeat_interval = 15.0
        self._queue: asyncio.Queue[SchedulerEvent | None] = asyncio.Queue()
        self._session: aiohttp.ClientSession | None = None
        self._runner: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()
        self.subscribe_attempts: deque[float] = deque(maxlen=1000)
        """Clock times of the latest SUBSCRIBE attempts (to measure the reconnect rate)."""

    # ---- lifecycle ------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def start(self) -> None:
        if self._runner is not None:
            return
        connector = aiohttp.TCPConnector(limit=64, force_close=False)
        self._session = aiohttp.ClientSession(connector=connector)
        self._runner = asyncio.create_task(self._run(), name="mesos-scheduler-subscription")

    async def close(self, *, teardown: bool = False) -> None:
        """Stop the subscription (the framework stays registered unless `teardown`)."""
        if teardown and self.connected:
            try:
                await self.teardown()
            except (MesosCallError, MesosUnavailableError) as exc:
                log.warning("Teardown failed", extra={"error": str(exc)})
        if self._runner is not None:
            self._runner.cancel()
            await asyncio.gather(self._runner, return_exceptions=True)
            self._runner = None
        if self._session is not None:
            await self._session.close()
            self._session = None
        self._queue.put_nowait(None)

    async def events(self) -> AsyncIterator[SchedulerEvent]:
        """Typed events (and `Disconnected`) until `close()`."""
        while True:
            event = await self._queue.get()
            if event is None:
                return
            yield event

    async def wait_subscribed(self) -> FrameworkId:
        """Block until subscribed (wrap in `asyncio.timeout()` to bound it)."""
        await self._subscribed.wait()
        assert self._framework_id is not None
        return self._framework_id

    @property
    def framework_id(self) -> FrameworkId | None:
        return self._framework_id

    @property
    def connected(self) -> bool:
        return self._subscribed.is_set()

    @property
    def leader(self) -> str:
        return self._leader

    @property
    def heartbeat_interval(self) -> float:
        return self._heartbeat_interval

    def forget_framework_id(self) -> None:
        """Subscribe as a new framework next time (after 'Framework has been removed')."""
        self._framework_id = None

    # ---- the subscription loop ------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            started = self._clock()
            reason = await self._subscribe_once()
            was_subscribed = self._subscribed.is_set()
            self._subscribed.clear()
            self._stream_id = None
            if was_subscribed:
                self._queue.put_nowait(Disconnected(reason=reason))
            if self._clock() - started >= self._stable_after:
                self._backoff.reset()
            delay = self._backoff.next_delay()
            log.info(
                "Mesos subscription ended; re-subscribing",
                extra={"master": self._leader, "reason": reason, "delay": round(delay, 3)},
            )
            await asyncio.sleep(delay)

    async def _subscribe_once(self) -> str:
        """One subscription, from SUBSCRIBE to the end of its stream; returns why it ended."""
        try:
            for _ in range(_MAX_REDIRECTS):
                moved = await self._subscribe_to(self._leader)
                if moved is None:
                    return "stream closed by master"
                log.info("Following Mesos leader redirect", extra={"leader": moved})
                self._leader = moved
            return "too many redirects"
        except _StreamEnded as exc:
            return str(exc)
        except (aiohttp.ClientError, OSError, TimeoutError, ValueError) as exc:
            self._rotate_master()
            return f"{type(exc).__name__}: {exc}"

    def _rotate_master(self) -> None:
        self._master_index = (self._master_index + 1) % len(self._masters)
        self._leader = self._masters[self._master_index]

    def _subscribe_body(self) -> dict[str, object]:
        info = self._framework
        if self._framework_id:
            info = info.model_copy(update={"id": self._framework_id})
        return encode_call(Subscribe(framework_info=info), framework_id=self._framework_id)

    async def _subscribe_to(self, master: str) -> str | None:
        """Subscribe at `master` and pump its stream; the new leader when redirected."""
        assert self._session is not None
        self.subscribe_attempts.append(self._clock())
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=self._call_timeout)
        request = self._session.post(
            f"http://{master}{API_PATH}",
            data=json.dumps(self._subscribe_body()),
            headers={"Content-Type": "application/json", "Accept": "application/json"},
            allow_redirects=False,
            timeout=timeout,
        )
        resp = await asyncio.wait_for(request, self._call_timeout)
        async with resp:
            if resp.status == 307:
                return _leader_from_location(resp.headers.get("Location", ""), master)
            if resp.status != 200:
                body = await resp.text()
                self._rotate_master()
                raise _StreamEnded(f"SUBSCRIBE refused: HTTP {resp.status} {body[:200]}")
            self._stream_id = resp.headers.get("Mesos-Stream-Id")
            await self._pump(resp)
        return None

    async def _pump(self, resp: aiohttp.ClientResponse) -> None:
        decoder = RecordIODecoder()
        while True:
            silence = self._heartbeat_misses * self._heartbeat_interval
            if not self._subscribed.is_set():
                silence = max(silence, self._call_timeout)
            try:
                chunk = await asyncio.wait_for(resp.content.readany(), silence)
            except TimeoutError as exc:
                raise _StreamEnded(f"no event for {silence:.1f}s (heartbeats stopped)") from exc
            if not chunk:
                return
            for record in decoder.feed(chunk):
                try:
                    event = decode_event(record)
                except pydantic.ValidationError as exc:
                    log.warning("Skipped malformed Mesos event", extra={"error": str(exc)})
                    continue
                self._dispatch(event)

    def _dispatch(self, event: SchedulerEvent) -> None:
        if isinstance(event, Subscribed):
            self._framework_id = event.framework_id
            if event.heartbeat_interval_seconds:
                self._heartbeat_interval = event.heartbeat_interval_seconds
            self._subscribed.set()
            log.info(
                "Subscribed to Mesos",
                extra={"framework_id": event.framework_id, "master": self._leader},
            )
        self._queue.put_nowait(event)

    # ---- calls ----------------------------------------------------------------------------

    async def call(self, call: SchedulerCall) -> None:
        """Send one call to the leader; MesosUnavailableError when not subscribed,
        MesosCallError when the master refuses it."""
        if self._session is None or not self._subscribed.is_set() or self._stream_id is None:
            raise MesosUnavailableError(f"cannot send {call.TYPE}: not subscribed to Mesos")
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "Mesos-Stream-Id": self._stream_id,
        }
        body = json.dumps(encode_call(call, framework_id=self._framework_id))
        url = f"http://{self._leader}{API_PATH}"
        timeout = aiohttp.ClientTimeout(total=self._call_timeout)
        try:
            async with self._session.post(
                url, data=body, headers=headers, allow_redirects=False, timeout=timeout
            ) as resp:
                if resp.status >= 300:
                    text = await resp.text()
                    raise MesosCallError(call.TYPE, status=resp.status, body=text)
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise MesosUnavailableError(f"{call.TYPE} to {self._leader} failed: {exc}") from exc

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
