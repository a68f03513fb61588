"""A lean HTTP/1.1 keep-alive sender for the scheduler's calls (ACKNOWLEDGE, ACCEPT, MESSAGE ...).

Why not aiohttp's ClientSession here: a call is a small POST answered by an empty 202, and
aiohttp spent ~150 us of CPU per such request (request/response objects, header multidicts,
payload wrappers, timers), more than the manager's own work per task update. This sender
writes one pre-built request head plus the body in one `write()`, parses the status line and
the body framing (Content-Length, chunked, or until close) and nothing else.

Wire behaviour is aiohttp's: one request at a time per connection (no pipelining), connections
kept alive and reused, TLS verified with the client's SSL context, no redirect followed (a 307
comes back as the status, for the caller to report). A connection that closes or misbehaves
mid-request fails that request with an OSError and is never reused.

Deadlines: a sender made with `call_timeout` bounds each call without a timer per request (an
`asyncio.timeout` around each ACK cost a TimerHandle scheduled and cancelled, ~10 us): the
requests in flight are kept in order of their deadlines (one timeout for all), and one sweep,
scheduled while any is in flight, fails those overdue with TimeoutError (and closes their
connections) at most `call_timeout / 8` late. Waiting for a free slot or a new connection, the
rare slow paths, keeps `asyncio.timeout`.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

_HEAD_END = b"\r\n\r\n"


class _Connection(asyncio.Protocol):
    """One keep-alive connection: one request in flight, its response parsed from `_buf`."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.reusable = False
        self._transport: asyncio.Transport | None = None
        self._waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self._buf = bytearray()
        self._head: _Head | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self.reusable = True

    def connection_lost(self, exc: Exception | None) -> None:
        self.reusable = False
        self._transport = None
        head = self._head
        if head is not None and head.length is None and not head.chunked:
            self._finish(bytes(self._buf[head.start :]))  # a body delimited by the close
        elif self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(
                exc or ConnectionResetError("connection closed by the master before the response")
            )

    def eof_received(self) -> bool:
        return False  # close our side too: connection_lost settles the request

    def close(self) -> None:
        self.reusable = False
        if self._transport is not None:
            self._transport.close()

    def send(self, data: bytes) -> asyncio.Future[tuple[int, bytes]]:
        """Send one request; the future of its (status, body)."""
        assert self._transport is not None and self._waiter is None
        self._waiter = waiter = asyncio.get_running_loop().create_future()
        self._transport.write(data)
        return waiter

    async def request(self, data: bytes) -> tuple[int, bytes]:
        """Send one request; its (status, body)."""
        return await self.send(data)

    def expire(self, waiter: asyncio.Future[tuple[int, bytes]]) -> None:
        """`waiter`'s deadline passed: fail it (if still this connection's request) and close."""
        if self._waiter is waiter and not waiter.done():
            self._waiter = None
            self.close()
            waiter.set_exception(TimeoutError("no answer from the master in time"))

    def data_received(self, data: bytes) -> None:
        if self._waiter is None:
            self.close()  # bytes nobody asked for: the connection is out of step
            return
        self._buf += data
        try:
            self._parse()
        except (ValueError, IndexError) as exc:
            self._fail(f"malformed HTTP response from the master ({exc})")

    def _parse(self) -> None:
        if self._head is None:
            end = self._buf.find(_HEAD_END)
            if end < 0:
                return
            self._head = _parse_head(bytes(self._buf[:end]), end + 4)
            if self._head.status < 200:  # 100 Continue and friends: the real answer follows
                del self._buf[: end + 4]
                self._head = None
                self._parse()
                return
        head = self._head
        if head.chunked:
            done = _dechunk(self._buf, head.start)
            if done is not None:
                self._finish(done[0], rest=done[1])
        elif head.length is not None and len(self._buf) >= head.start + head.length:
            stop = head.start + head.length
            self._finish(bytes(self._buf[head.start : stop]), rest=stop)

    def _finish(self, body: bytes, *, rest: int | None = None) -> None:
        assert self._head is not None
        status = self._head.status
        if rest is None or rest != len(self._buf) or not self._head.keep_alive:
            self.reusable = False  # read until close, or trailing bytes: never reuse
        self._buf.clear()
        self._head = None
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result((status, body))

    def _fail(self, why: str) -> None:
        waiter, self._waiter = self._waiter, None
        self.close()
        if waiter is not None and not waiter.done():
            waiter.set_exception(ConnectionError(why))


@dataclass(frozen=True, slots=True)
class _Head:
    """A response's status line and framing: the body starts at `start`; `length` None with
    `chunked` False means the body runs until the close."""

    status: int
    start: int
    length: int | None
    chunked: bool
    keep_alive: bool


def _parse_head(head: bytes, start: int) -> _Head:
    lines = head.split(b"\r\n")
    version, status_text = lines[0].split(b" ", 2)[:2]
    if not version.startswith(b"HTTP/1."):
        raise ValueError(f"status line {lines[0][:60]!r}")
    status = int(status_text)
    length: int | None = None
    chunked = False
    keep = version == b"HTTP/1.1"
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
        elif name == b"connection":
            value = value.lower()
            keep = b"keep-alive" in value if not keep else b"close" not in value
    if status in (204, 304) or status < 200:
        length, chunked = 0, False
    return _Head(status, start, None if chunked else length, chunked, keep)


def _dechunk(buf: bytearray, start: int) -> tuple[bytes, int] | None:
    """A complete chunked body from `start` and where it ends; None while incomplete."""
    body = bytearray()
    pos = start
    while True:
        eol = buf.find(b"\r\n", pos)
        if eol < 0:
            return None
        size = int(bytes(buf[pos:eol]).split(b";", 1)[0], 16)
        pos = eol + 2
        if size == 0:
            end = buf.find(_HEAD_END, pos - 2)  # optional trailers, then an empty line
            return None if end < 0 else (bytes(body), end + 4)
        if len(buf) < pos + size + 2:
            return None
        body += buf[pos : pos + size]
        pos += size + 2


class CallSender:
    """POSTs to one path of the master with fixed `headers` (Host, Content-Length and
    Mesos-Stream-Id are added), over a pool of kept-alive
    connections (at most `limit` requests in flight, like the aiohttp connector it replaces),
    each bounded by `call_timeout` seconds when given."""

    def __init__(
        self,
        path: str,
        headers: Mapping[str, str],
        *,
        tls: ssl.SSLContext | None,
        limit: int = 64,
        call_timeout: float | None = None,
    ) -> None:
        self._path = path
        self._call_timeout = call_timeout
        self._headers = dict(headers)
        self._tls = tls
        self._slots = asyncio.Semaphore(limit)
        self._idle: list[_Connection] = []
        self._closed = False
        self._prefix_key: tuple[str, str] | None = None
        self._prefix = b""
        self._pending: deque[tuple[float, asyncio.Future[tuple[int, bytes]], _Connection]] = deque()
        self._sweep: asyncio.TimerHandle | None = None

    async def post(self, base: str, stream_id: str, body: bytes) -> tuple[int, bytes]:
        """POST `body` to `base` (`http(s)://host[:port]`) with `Mesos-Stream-Id: stream_id`;
        (status, body). OSError when the master cannot be reached or the connection breaks
        before the response; TimeoutError when no answer came within `call_timeout` (or from
        the caller's own timeout)."""
        if self._prefix_key != (base, stream_id):
            self._prefix = self._request_prefix(base, stream_id)
            self._prefix_key = (base, stream_id)
        data = b"%s%d\r\n\r\n%s" % (self._prefix, len(body), body)
        if self._call_timeout is None:
            return await self._post(base, data, None)
        deadline = asyncio.get_running_loop().time() + self._call_timeout
        idle = self._idle
        if self._slots.locked() or not (idle and idle[-1].reusable and idle[-1].key == base):
            # it may wait: for a slot, or for a new connection
            async with asyncio.timeout_at(deadline):
                return await self._post(base, data, None)
        return await self._post(base, data, deadline)

    async def _post(self, base: str, data: bytes, deadline: float | None) -> tuple[int, bytes]:
        async with self._slots:
            conn = await self._acquire(base)
            try:
                waiter = conn.send(data)
                if deadline is not None:
                    self._watch(deadline, waiter, conn)
                result = await waiter
            except BaseException:
                conn.close()
                raise
            if conn.reusable and not self._closed:
                self._idle.append(conn)
            else:
                conn.close()
            return result

    def _watch(
        self, deadline: float, waiter: asyncio.Future[tuple[int, bytes]], conn: _Connection
    ) -> None:
        self._pending.append((deadline, waiter, conn))
        if self._sweep is None and self._call_timeout is not None:
            period = max(self._call_timeout / 8, 0.005)
            self._sweep = asyncio.get_running_loop().call_later(period, self._expire, period)

    def _expire(self, period: float) -> None:
        """Fail the requests past their deadline; again in `period` while any is in flight."""
        self._sweep = None
        pending = self._pending
        now = asyncio.get_running_loop().time()
        while pending and (pending[0][1].done() or pending[0][0] <= now):
            _, waiter, conn = pending.popleft()
            conn.expire(waiter)
        if pending:  # its head still waits
            self._sweep = asyncio.get_running_loop().call_later(period, self._expire, period)

    def _request_prefix(self, base: str, stream_id: str) -> bytes:
        host = base.split("://", 1)[1]
        lines = [f"POST {self._path} HTTP/1.1", f"Host: {host}"]
        lines += [f"{k}: {v}" for k, v in self._headers.items()]
        lines.append(f"Mesos-Stream-Id: {stream_id}")
        return ("\r\n".join(lines) + "\r\nContent-Length: ").encode("latin-1")

    async def _acquire(self, base: str) -> _Connection:
        while self._idle:
            conn = self._idle.pop()
            if conn.reusable and conn.key == base:
                return conn
            conn.close()
        url = urlsplit(base)
        tls = url.scheme == "https"
        host = url.hostname or ""
        context = (self._tls or ssl.create_default_context()) if tls else None
        _, conn = await asyncio.get_running_loop().create_connection(
            lambda: _Connection(base),
            host,
            url.port or (443 if tls else 80),
            ssl=context,
            server_hostname=host if tls else None,
        )
        return conn

    @property
    def idle_connections(self) -> int:
        return len(self._idle)

    def close(self) -> None:
        """Close the idle connections (requests in flight close theirs when they end)."""
        self._closed = True
        for conn in self._idle:
            conn.close()
        self._idle.clear()
