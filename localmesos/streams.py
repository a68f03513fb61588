"""RecordIO event streams over chunked HTTP responses: callers enqueue, one writer per stream."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from typing import Any

from aiohttp import web

from mesosapi.recordio import encode

log = logging.getLogger(__name__)

_CLOSE = object()


class EventStream:
    """One subscriber's stream. `send` never blocks (so a call handler never waits on a slow
    reader, which would deadlock pymesos); `run` writes queued events as RecordIO chunks."""

    def __init__(self, *, name: str, heartbeat_interval: float | None = None) -> None:
        self.name = name
        self.stream_id = str(uuid.uuid4())
        self.closed = False
        self.events_sent = 0
        self._queue: asyncio.Queue[object] = asyncio.Queue()
        self._heartbeat_interval = heartbeat_interval

    def send(self, event: dict[str, Any]) -> None:
        if not self.closed:
            self._queue.put_nowait(event)

    def close(self) -> None:
        """Finish the stream after what is queued (a zero-length chunk ends the response)."""
        if not self.closed:
            self._queue.put_nowait(_CLOSE)

    async def run(self, request: web.Request, *, headers: dict[str, str]) -> web.StreamResponse:
        """Serve the stream until closed by us or by the peer."""
        resp = web.StreamResponse(
            status=200, headers={"Content-Type": "application/json", **headers}
        )
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        beat = asyncio.create_task(self._heartbeats()) if self._heartbeat_interval else None
        try:
            await self._write_loop(resp)
            with contextlib.suppress(ConnectionError):
                await resp.write_eof()
        except ConnectionError:
            log.info("Stream peer went away", extra={"stream": self.name})
        finally:
            self.closed = True
            if beat is not None:
                beat.cancel()
        return resp

    async def _write_loop(self, resp: web.StreamResponse) -> None:
        while True:
            item = await self._queue.get()
            frames: list[bytes] = []
            done = False
            while True:
                if item is _CLOSE:
                    done = True
                    break
                assert isinstance(item, dict)
                frames.append(encode(item))
                if self._queue.empty():
                    break
                item = self._queue.get_nowait()
            if frames:
                self.events_sent += len(frames)
                await resp.write(b"".join(frames))
            if done:
                self.closed = True
                return

    async def _heartbeats(self) -> None:
        assert self._heartbeat_interval is not None
        while not self.closed:  # the first HEARTBEAT is sent by whoever sends SUBSCRIBED
            await asyncio.sleep(self._heartbeat_interval)
            self.send({"type": "HEARTBEAT"})
