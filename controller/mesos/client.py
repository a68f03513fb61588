"""o2's Mesos v1 scheduler client: the subscription over aiohttp (the only controller module
that imports it), reconnects, and calls over `CallSender`'s kept-alive connections (one small
POST per ACK: aiohttp's per-request CPU was the larger part of an ACK's cost). Wire shapes
live in mesosapi (pure).

Usage (the task controller):

    client = SchedulerClient(["127.0.0.1:5050"], framework_info(...), framework_id=stored_id)
    async with client:
        async for event in client.events():
            match event:
                case Subscribed(): ...      # store client.framework_id, reconcile
                case Offers(): await client.launch(...)
                case Update(): ...; client.acknowledge_soon(event.status)  # or await acknowledge()
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

from controller.mesos.access import is_misconfiguration, ssl_context, transport_error
from controller.mesos.bodies import encode_message, encode_reconcile
from controller.mesos.calls import SchedulerCalls
from controller.mesos.sender import CallSender
from crds.errors import MesosCallError, MesosUnavailableError
from mesosapi.auth import MesosAccess, base_url, is_tls
from mesosapi.backoff import Backoff
from mesosapi.models import AgentId, ExecutorId, FrameworkId, FrameworkInfo, TaskId, TaskStatus
from mesosapi.recordio import RecordIODecoder, decode_events
from mesosapi.scheduler import (
    SchedulerCall,
    SchedulerEvent,
    Subscribe,
    Subscribed,
    decode_event,
    decode_event_text,
    encode_acknowledge,
    encode_call,
    encode_call_json,
)

log = logging.getLogger(__name__)

API_PATH = "/api/v1/scheduler"
ACK_CONCURRENCY = 64
"""ACKs in flight at once. Agents resend an update every 10 s until it is ACKed (as Mesos'):
with 16, a 10,000-task DEPLOY on a busy box queued 8,000 ACKs behind the master's answers, so
80% more updates arrived (resends), each decoded, written around and ACKed again."""
_MAX_REDIRECTS = 4


class Disconnected(SchedulerEvent):
    """Not from Mesos: the subscription ended; outstanding offers are void until re-subscribed."""

    TYPE: ClassVar[str] = "DISCONNECTED"
    reason: str = ""


class _StreamEnded(Exception):
    """Internal: the subscription stream ended (closed, refused, silent or broken)."""


def leader_from_location(location: str, current: str) -> str:
    """The master a 307 points at (Mesos sends `//host:port/...`): `host:port`, or
    `https://host:port` when the redirect or the current master is https (TLS is kept)."""
    loc = location.strip()
    if loc.startswith("//"):
        loc = "http:" + loc
    netloc = loc.split("://", 1)[1].split("/", 1)[0] if "://" in loc else ""
    if not netloc:
        return current
    plain = location.strip().startswith("http://")
    if loc.startswith("https://") or (is_tls(current) and not plain):
        return f"https://{netloc}"
    return netloc


class SchedulerClient(SchedulerCalls):
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
        ack_concurrency: int = ACK_CONCURRENCY,
        clock: Callable[[], float] = time.monotonic,
        access: MesosAccess | None = None,
    ) -> None:
        self._masters = [masters] if isinstance(masters, str) else list(masters)
        if not self._masters:
            raise ValueError("no Mesos master given")
        for master in self._masters:
            base_url(master)  # ValueError for a scheme other than http/https, before any I/O
        self._access = access or MesosAccess()
        self._headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            **self._access.headers(),
        }
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
        self._sender: CallSender | None = None
        self._runner: asyncio.Task[None] | None = None
        self._ack_concurrency = ack_concurrency
        self._acks: asyncio.Queue[TaskStatus] = asyncio.Queue()
        self._acking: set[tuple[str, bytes | None]] = set()
        self._ack_workers: list[asyncio.Task[None]] = []
        self._subscribed = asyncio.Event()
        self._closing = False
        self.subscribe_attempts: deque[float] = deque(maxlen=1000)
        """Clock times of the latest SUBSCRIBE attempts (to measure the reconnect rate)."""
        self._misconfigured = False
        self.last_error: str | None = None
        """Why the latest subscription ended or was refused (None once subscribed)."""

    # ---- lifecycle ------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def start(self) -> None:
        if self._runner is not None:
            return
        tls = ssl_context(self._access) if any(is_tls(m) for m in self._masters) else None
        connector = aiohttp.TCPConnector(limit=64, force_close=False, ssl=tls or True)
        self._session = aiohttp.ClientSession(connector=connector)
        call_headers = {**self._headers, "User-Agent": aiohttp.http.SERVER_SOFTWARE}
        # twice the ACK workers' connections: ACKs never take every slot from ACCEPT or MESSAGE
        limit = 2 * self._ack_concurrency
        timeout = self._call_timeout
        self._sender = CallSender(
            API_PATH, call_headers, tls=tls, call_timeout=timeout, limit=limit
        )
        self._runner = asyncio.create_task(self._run(), name="mesos-scheduler-subscription")
        self._ack_workers = [
            asyncio.create_task(self._ack_worker(), name=f"mesos-ack-{i}")
            for i in range(self._ack_concurrency)
        ]

    async def close(self, *, teardown: bool = False) -> None:
        """Stop the subscription (the framework stays registered unless `teardown`)."""
        if teardown and self.connected:
            try:
                await self.teardown()
            except (MesosCallError, MesosUnavailableError) as exc:
                log.warning("Teardown failed", extra={"error": str(exc)})
        self._closing = True
        tasks = [*self._ack_workers, *([self._runner] if self._runner else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._runner = None
        self._ack_workers = []
        if self._sender is not None:
            self._sender.close()
            self._sender = None
        if self._session is not None:
            await self._session.close()
            self._session = None
        self._queue.put_nowait(None)

    def acknowledge_soon(self, status: TaskStatus) -> bool:
        """Queue the ACK of a reliable update (one with a uuid) without waiting for it.

        A pool of `ack_concurrency` workers sends them. An ACK lost to a disconnect is harmless:
        the agent re-sends the update and the consumer ACKs it again. False if nothing to ACK.
        One ACK per update: an agent's resend of an update (same task, same uuid) whose ACK is
        still queued or being sent is not ACKed twice (a resend after that is).
        """
        if status.uuid is None or status.agent_id is None:
            return False
        key = (status.task_id, status.uuid)
        if key not in self._acking:
            self._acking.add(key)
            self._acks.put_nowait(status)
        return True

    @property
    def pending_acks(self) -> int:
        return self._acks.qsize()

    async def _ack_worker(self) -> None:
        while True:
            status = await self._acks.get()
            try:
                await self.acknowledge(status)
            except (MesosCallError, MesosUnavailableError) as exc:
                log.info("ACK dropped; Mesos will re-send the update", extra={"error": str(exc)})
            finally:
                self._acking.discard((status.task_id, status.uuid))
                self._acks.task_done()

    async def drain_acks(self) -> None:
        """Wait until every queued ACK was sent (or dropped); bound it with asyncio.timeout()."""
        await self._acks.join()

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
        while not self._closing:
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
            self.last_error = reason
            self._misconfigured = is_misconfiguration(reason)
            log.log(
                logging.ERROR if self._misconfigured else logging.INFO,
                "Mesos subscription ended (%s); re-subscribing in %.2fs",
                reason,
                delay,
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
            failed = self._leader
            self._rotate_master()
            return transport_error(exc, base_url(failed))
        except Exception as exc:  # the loop must survive anything: log it and back off
            log.exception("Unexpected error in the Mesos subscription")
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
            base_url(master) + API_PATH,
            data=json.dumps(self._subscribe_body()),
            headers=self._headers,
            allow_redirects=False,
            timeout=timeout,
        )
        async with asyncio.timeout(self._call_timeout):
            resp = await request
        async with resp:
            if resp.status == 307:
                return leader_from_location(resp.headers.get("Location", ""), master)
            if resp.status != 200:
                body = await resp.text()
                self._rotate_master()
                raise _StreamEnded(self._refusal(master, resp.status, body))
            self._stream_id = resp.headers.get("Mesos-Stream-Id")
            await self._pump(resp)
        return None

    def _refusal(self, master: str, status: int, body: str) -> str:
        """Why SUBSCRIBE was refused; 401/403 name the principal and what to check."""
        text = f"SUBSCRIBE refused by {base_url(master)}: HTTP {status} {body[:200]}".rstrip()
        if status == 401:
            who = self._access.principal
            hint = (
                f"principal {who!r} was not accepted: check --mesos-principal and the secret "
                "(--mesos-secret-file / $O2_MESOS_SECRET)"
                if who
                else "the master requires authentication: set --mesos-principal and a secret "
                "(--mesos-secret-file / $O2_MESOS_SECRET)"
            )
            return f"{text} ({hint})"
        if status == 403:
            return f"{text} (principal {self._access.principal!r} is not authorized)"
        return text

    async def _pump(self, resp: aiohttp.ClientResponse) -> None:
        decoder = RecordIODecoder()
        while True:
            silence = self._heartbeat_misses * self._heartbeat_interval
            if not self._subscribed.is_set():
                silence = max(silence, self._call_timeout)
            try:
                async with asyncio.timeout(silence):
                    chunk = await resp.content.readany()
            except TimeoutError as exc:
                raise _StreamEnded(f"no event for {silence:.1f}s (heartbeats stopped)") from exc
            if not chunk:
                return
            for event in decode_events(decoder, chunk, decode_event, decode_text=decode_event_text):
                self._dispatch(event)

    def _dispatch(self, event: SchedulerEvent) -> None:
        if isinstance(event, Subscribed):
            self._framework_id = event.framework_id
            if event.heartbeat_interval_seconds:
                self._heartbeat_interval = event.heartbeat_interval_seconds
            self._subscribed.set()
            self.last_error = None
            log.info(
                "Subscribed to Mesos",
                extra={"framework_id": event.framework_id, "master": self._leader},
            )
        self._queue.put_nowait(event)

    # ---- calls ----------------------------------------------------------------------------

    async def call(self, call: SchedulerCall) -> None:
        """Send one call to the leader; MesosUnavailableError when not subscribed,
        MesosCallError when the master refuses it."""
        await self._send(call.TYPE, encode_call_json(call, framework_id=self._framework_id))

    async def acknowledge(self, status: TaskStatus) -> bool:
        """As `SchedulerCalls.acknowledge`, the body built without a model (one per update)."""
        if status.uuid is None or status.agent_id is None:
            return False
        fid = self._framework_id
        await self._send(
            "ACKNOWLEDGE",
            encode_acknowledge(status.agent_id, status.task_id, status.uuid, framework_id=fid),
        )
        return True

    async def reconcile(self, tasks: Sequence[tuple[TaskId, AgentId | None]] = ()) -> None:
        """As `SchedulerCalls.reconcile`, the body written without a model per task."""
        await self._send("RECONCILE", encode_reconcile(tasks, framework_id=self._framework_id))

    async def message(self, agent_id: AgentId, executor_id: ExecutorId, data: bytes) -> None:
        """As `SchedulerCalls.message`, the data base64-encoded straight into the body."""
        fid = self._framework_id
        await self._send("MESSAGE", encode_message(agent_id, executor_id, data, framework_id=fid))

    async def _send(self, kind: str, body: bytes) -> None:
        if self._sender is None or not self._subscribed.is_set() or self._stream_id is None:
            raise MesosUnavailableError(f"cannot send {kind}: not subscribed to Mesos")
        url = base_url(self._leader)
        try:
            status, text = await self._sender.post(url, self._stream_id, body)
        except (OSError, TimeoutError) as exc:
            reason = transport_error(exc, url)
            raise MesosUnavailableError(f"{kind} failed: {reason}") from exc
        if status >= 300:
            raise MesosCallError(kind, status=status, body=text.decode("utf-8", "replace"))
