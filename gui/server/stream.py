"""The GUI's SSE feed (`GET /api/stream`): a snapshot, then deltas, written in timed slices.

The hub (gui.hub) feeds every connected browser; a browser that falls too far behind, or
stalls a write past the hub's write timeout, is disconnected and reconnects to a fresh
snapshot.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from gui.feed import SSE_PING, SSE_RETRY
from gui.hub import Client, Hub
from gui.server.access import HUB_KEY, error

log = logging.getLogger(__name__)

PING_INTERVAL = 15.0
WRITE_CHUNK = 64 * 1024
"""The shared snapshot goes out in slices: a stalled browser pins one slice, not a copy."""


async def stream(request: web.Request) -> web.StreamResponse:
    """SSE: a snapshot (also after any reconnect, Last-Event-ID or not), then deltas."""
    hub = request.app[HUB_KEY]
    await hub.wait_synced()
    if hub.full:
        message = (
            f"too many live GUI pages ({hub.max_clients}, the --max-clients limit): "
            "close some, or restart the GUI with a higher --max-clients"
        )
        return error(503, message, retry_after=True)
    transport = request.transport
    if transport is None:
        return error(400, "the connection closed")
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        }
    )
    client, snapshot = await hub.connect(
        abort=transport.abort, buffered=transport.get_write_buffer_size
    )
    log.info(
        "Browser connected",
        extra={"last_event_id": request.headers.get("Last-Event-ID"), "clients": len(hub.clients)},
    )
    try:
        await response.prepare(request)
        await _send(hub, client, response, SSE_RETRY)
        await _send(hub, client, response, snapshot)
        await _pump(hub, client, response)
    except TimeoutError:
        log.warning("Browser stalled; dropping it", extra={"write_timeout": hub.write_timeout})
        transport.abort()
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        hub.drop(client)
    return response


async def _pump(hub: Hub, client: Client, response: web.StreamResponse) -> None:
    while True:
        try:
            async with asyncio.timeout(PING_INTERVAL):
                frame = await client.next_frame()
        except TimeoutError:
            frame = SSE_PING
        if frame is None:
            return
        await _send(hub, client, response, frame)


async def _send(
    hub: Hub, client: Client, response: web.StreamResponse, frame: bytes | memoryview
) -> None:
    """Write in slices, each within WRITE_TIMEOUT (TimeoutError: the browser stalled)."""
    view = memoryview(frame)
    for start in range(0, len(view), WRITE_CHUNK):
        piece = view[start : start + WRITE_CHUNK]
        async with asyncio.timeout(hub.write_timeout):
            await response.write(piece)
        client.bytes_sent += len(piece)
        hub.bytes_sent += len(piece)
    hub.messages_sent += 1
