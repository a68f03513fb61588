"""The scheduler's call sender against a scripted raw HTTP server: every response framing a master
may use (Content-Length, chunked, until close, 100 Continue), keep-alive reuse, and breakage."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest

from controller.mesos.sender import CallSender

pytestmark = pytest.mark.timeout(30)

HEADERS = {"Content-Type": "application/json", "Authorization": "Basic eDp5"}


@dataclass
class RawServer:
    """Answers each request with the next scripted bytes (None: close without answering; closes
    after an HTTP/1.0 or `Connection: close` answer)."""

    script: list[bytes | None]
    requests: list[bytes] = field(default_factory=list)
    connections: int = 0
    base: str = ""

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while self.script:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                self.requests.append(head + await reader.readexactly(length))
                answer = self.script.pop(0)
                if answer is None:
                    break
                writer.write(answer)
                await writer.drain()
                if answer.startswith(b"HTTP/1.0") or b"Connection: close" in answer:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@contextlib.asynccontextmanager
async def serving(handler: Handler) -> AsyncIterator[str]:
    """A loopback server running `handler` per connection; its base URL. On exit every
    connection's handler is awaited (then cancelled, and its socket closed): a handler still
    running when the test's loop closes leaves an unclosed socket, whose ResourceWarning
    fails whichever test runs next in that process."""
    handlers: set[asyncio.Task[None]] = set()
    writers: list[asyncio.StreamWriter] = []

    async def tracked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        handlers.add(task)
        writers.append(writer)
        await handler(reader, writer)

    server = await asyncio.start_server(tracked, "127.0.0.1", 0)
    try:
        async with server:
            yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        if handlers:
            _, pending = await asyncio.wait(handlers, timeout=5)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        for writer in writers:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


@contextlib.asynccontextmanager
async def raw_server(script: list[bytes | None]) -> AsyncIterator[RawServer]:
    srv = RawServer(list(script))
    async with serving(srv.handle) as base:
        srv.base = base
        yield srv


ACCEPTED = b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n"


async def test_requests_reuse_one_kept_alive_connection_with_the_exact_head() -> None:
    async with raw_server([ACCEPTED] * 3) as srv:
        sender = CallSender("/api/v1/scheduler", HEADERS, tls=None)
        for n in range(3):
            assert await sender.post(srv.base, "stream-1", b'{"n": %d}' % n) == (202, b"")
        sender.close()
    assert srv.connections == 1
    host = srv.base.removeprefix("http://")
    assert (
        srv.requests[0]
        == (
            f"POST /api/v1/scheduler HTTP/1.1\r\nHost: {host}\r\n"
            "Content-Type: application/json\r\nAuthorization: Basic eDp5\r\n"
            'Mesos-Stream-Id: stream-1\r\nContent-Length: 8\r\n\r\n{"n": 0}'
        ).encode()
    )


@pytest.mark.parametrize(
    ("answer", "expected", "reused"),
    [
        (b"HTTP/1.1 400 Bad Request\r\nContent-Length: 5\r\n\r\nnope!", (400, b"nope!"), True),
        (
            b"HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"3;x=1\r\nbad\r\n2\r\n!!\r\n0\r\nTrailer: t\r\n\r\n",
            (400, b"bad!!"),
            True,
        ),
        (b"HTTP/1.1 100 Continue\r\n\r\n" + ACCEPTED, (202, b""), True),
        (
            b"HTTP/1.1 307 Temporary Redirect\r\nLocation: //h:5050/x\r\nContent-Length: 0\r\n\r\n",
            (307, b""),
            True,
        ),
        (
            b"HTTP/1.1 202 Accepted\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
            (202, b""),
            False,
        ),
        (b"HTTP/1.0 500 Oops\r\n\r\nuntil close", (500, b"until close"), False),
    ],
)
async def test_each_response_framing_gives_status_and_body(
    answer: bytes, expected: tuple[int, bytes], reused: bool
) -> None:
    """A body until close ends the request at the close; such connections are never reused."""
    async with raw_server([answer, ACCEPTED]) as srv:
        sender = CallSender("/p", HEADERS, tls=None)
        assert await sender.post(srv.base, "s", b"{}") == expected
        assert await sender.post(srv.base, "s", b"{}") == (202, b"")
        sender.close()
    assert srv.connections == (1 if reused else 2)


async def test_a_connection_dropped_mid_request_fails_it_and_the_next_reconnects() -> None:
    async with raw_server([None, ACCEPTED]) as srv:
        sender = CallSender("/p", HEADERS, tls=None)
        with pytest.raises(ConnectionError):
            await sender.post(srv.base, "s", b"{}")
        assert await sender.post(srv.base, "s", b"{}") == (202, b"")
        sender.close()
    assert srv.connections == 2


async def test_a_malformed_answer_fails_the_request_with_an_os_error() -> None:
    async with raw_server([b"SPDY/9 ok\r\n\r\n", ACCEPTED]) as srv:
        sender = CallSender("/p", HEADERS, tls=None)
        with pytest.raises(OSError, match="malformed HTTP response"):
            await sender.post(srv.base, "s", b"{}")
        assert await sender.post(srv.base, "s", b"{}") == (202, b"")
        sender.close()


async def test_an_unreachable_master_is_an_os_error() -> None:
    sender = CallSender("/p", HEADERS, tls=None)
    with pytest.raises(OSError):
        await sender.post("http://127.0.0.1:9", "s", b"{}")


async def test_a_timed_out_request_closes_its_connection() -> None:
    """The late answer must not be read as the next request's response."""
    late = asyncio.Event()

    async def slow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        await late.wait()
        writer.write(ACCEPTED)
        writer.close()

    async with serving(slow) as base:
        sender = CallSender("/p", HEADERS, tls=None)
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.2):
                await sender.post(base, "s", b"{}")
        late.set()
        assert sender.idle_connections == 0
        sender.close()


async def test_a_request_finishing_after_close_does_not_pool_its_connection() -> None:
    arrived, answer = asyncio.Event(), asyncio.Event()

    async def held(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        arrived.set()
        await answer.wait()
        writer.write(ACCEPTED)
        await writer.drain()
        await reader.read()  # until the sender closes its side
        writer.close()

    async with serving(held) as base:
        sender = CallSender("/p", HEADERS, tls=None)
        request = asyncio.create_task(sender.post(base, "s", b"{}"))
        await arrived.wait()
        sender.close()
        answer.set()
        assert await request == (202, b"")
        assert sender.idle_connections == 0
