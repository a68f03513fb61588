"""The GUI's HTTP server (aiohttp): static app, the SSE feed and token-guarded actions.

The only module in `gui` that imports aiohttp. One informer per kind feeds a `gui.feed.Feed`;
a flusher broadcasts one coalesced delta per interval to every connected browser. A browser
that falls too far behind is disconnected; it reconnects and starts from a fresh snapshot.
The browser never sees etcd endpoints or credentials: only objects and this server's API.
"""

from __future__ import annotations

import asyncio
import logging
from functools import partial
from pathlib import Path
from typing import Any

from aiohttp import web

from crds.errors import ConflictError, NotFoundError
from gui.actions import ACTIONS, NEEDS_CONFIRMATION, perform
from gui.auth import NO_TOKENS, Tokens
from gui.feed import KINDS, SSE_PING, SSE_RETRY, Feed, KindFeed, sse_frame
from store.api import Store
from store.informer import CacheEvent, InformerFactory

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"
FLUSH_INTERVAL = 0.05
PING_INTERVAL = 15.0
CLIENT_QUEUE_LIMIT = 64
SYNC_WAIT = 10.0


class Client:
    """One connected browser: a bounded queue of encoded frames."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue(CLIENT_QUEUE_LIMIT)
        self.bytes_sent = 0

    def offer(self, frame: bytes) -> bool:
        """False when the browser is too far behind (it gets dropped, then re-snapshots)."""
        try:
            self.queue.put_nowait(frame)
        except asyncio.QueueFull:
            return False
        return True


class Hub:
    """Informers -> Feed -> clients. Everything runs on one event loop: no locks needed."""

    def __init__(
        self,
        store: Store,
        *,
        kinds: tuple[KindFeed, ...] = KINDS,
        flush_interval: float = FLUSH_INTERVAL,
    ) -> None:
        self.store = store
        self.kinds = kinds
        self.flush_interval = flush_interval
        self.feed = Feed(tuple(k.plural for k in kinds))
        self.factory = InformerFactory(store)
        self.clients: set[Client] = set()
        self.bytes_sent = 0
        self.messages_sent = 0
        self._flusher: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    async def start(self) -> None:
        for kind in self.kinds:
            informer = self.factory.informer(kind.model)
            informer.add_handler(partial(self._on_change, kind))
        self.factory.start()
        self._flusher = asyncio.create_task(self._flush_loop(), name="gui-flusher")

    async def stop(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
            await asyncio.gather(self._flusher, return_exceptions=True)
        for client in list(self.clients):
            self.drop(client)
        await self.factory.stop()

    def _on_change(self, kind: KindFeed, event: CacheEvent[Any]) -> None:
        obj = event.obj
        wire = None if event.type == "DELETED" else kind.project(obj)
        revision = obj.metadata.resource_version or 0
        self.feed.apply(kind.plural, event.name, wire, revision=revision)
        self._wake.set()

    async def wait_synced(self, *, within: float = SYNC_WAIT) -> bool:
        try:
            async with asyncio.timeout(within):
                await self.factory.wait_synced()
        except TimeoutError:
            return False
        self.feed.synced = True
        return True

    def revision(self) -> int:
        """The newest etcd revision any informer has applied (kinds are watched separately)."""
        return max((i.revision for i in self.factory.all()), default=0)

    async def _flush_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            self._wake.clear()
            started = loop.time()
            self.flush()
            await asyncio.sleep(max(0.0, self.flush_interval - (loop.time() - started)))

    def flush(self) -> None:
        """Broadcast the pending changes as one delta (encoded once for all clients)."""
        delta = self.feed.flush(revision=self.revision())
        if delta is not None:
            self.broadcast(sse_frame("delta", delta))

    def broadcast(self, frame: bytes) -> None:
        for client in list(self.clients):
            if not client.offer(frame):
                log.warning("Browser too slow; dropping it", extra={"clients": len(self.clients)})
                self.drop(client)

    def subscribe(self) -> tuple[Client, bytes]:
        """A new client and its snapshot frame; no await in between, so no delta is missed.

        Pending changes are flushed to the existing clients first, so the snapshot is current.
        """
        self.flush()
        client = Client()
        self.clients.add(client)
        return client, sse_frame("snapshot", self.feed.snapshot())

    def drop(self, client: Client) -> None:
        """Forget the client and wake its handler with the end marker (pending frames go)."""
        self.clients.discard(client)
        while not client.queue.empty():
            client.queue.get_nowait()
        client.queue.put_nowait(None)


HUB_KEY = web.AppKey("hub", Hub)
TOKENS_KEY = web.AppKey("tokens", Tokens)


async def stream(request: web.Request) -> web.StreamResponse:
    """SSE: a snapshot (also after any reconnect, Last-Event-ID or not), then deltas."""
    hub = request.app[HUB_KEY]
    await hub.wait_synced()
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        }
    )
    await response.prepare(request)
    client, snapshot = hub.subscribe()
    log.info(
        "Browser connected",
        extra={"last_event_id": request.headers.get("Last-Event-ID"), "clients": len(hub.clients)},
    )
    try:
        await _send(hub, client, response, SSE_RETRY + snapshot)
        await _pump(hub, client, response)
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        hub.drop(client)
    return response


async def _pump(hub: Hub, client: Client, response: web.StreamResponse) -> None:
    while True:
        try:
            async with asyncio.timeout(PING_INTERVAL):
                frame = await client.queue.get()
        except TimeoutError:
            frame = SSE_PING
        if frame is None:
            return
        await _send(hub, client, response, frame)


async def _send(hub: Hub, client: Client, response: web.StreamResponse, frame: bytes) -> None:
    await response.write(frame)
    client.bytes_sent += len(frame)
    hub.bytes_sent += len(frame)
    hub.messages_sent += 1


async def info(request: web.Request) -> web.Response:
    """What the page needs to know about the server (never credentials or endpoints)."""
    hub = request.app[HUB_KEY]
    return web.json_response(
        {
            "actions": request.app[TOKENS_KEY].enabled,
            "actionNames": list(ACTIONS),
            "confirm": sorted(NEEDS_CONFIRMATION),
            "revision": hub.feed.revision,
            "clients": len(hub.clients),
            "bytesSent": hub.bytes_sent,
        }
    )


async def action(request: web.Request) -> web.Response:
    """POST /api/environments/{name}/{action} with `Authorization: Bearer <token>`."""
    tokens = request.app[TOKENS_KEY]
    if not tokens.enabled:
        return _error(403, "actions are disabled: the GUI server was started without tokens")
    who = tokens.who(request.headers.get("Authorization"))
    if who is None:
        return _error(401, "a valid bearer token is required", auth=True)
    verb = request.match_info["action"]
    if verb not in ACTIONS:
        return _error(404, f"unknown action {verb!r}; one of {', '.join(ACTIONS)}")
    name = request.match_info["name"]
    try:
        result = await perform(request.app[HUB_KEY].store, name, action=verb, who=who)
    except NotFoundError:
        return _error(404, f"environment/{name} not found")
    except ConflictError:
        return _error(409, f"environment/{name} keeps changing; try again")
    env = result.environment
    return web.json_response(
        {
            "environment": name,
            "action": verb,
            "who": who,
            "spec": env.spec.model_dump(mode="json", by_alias=True),
            "event": None if result.event is None else result.event.metadata.name,
        }
    )


def _error(status: int, message: str, *, auth: bool = False) -> web.Response:
    headers = {"WWW-Authenticate": 'Bearer realm="o2"'} if auth else None
    return web.json_response({"error": message}, status=status, headers=headers)


async def index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """No sniffing, no framing, and only this origin's scripts (nothing fetched from outside)."""
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:",
    )


def make_app(store: Store, *, tokens: Tokens = NO_TOKENS, **hub_options: Any) -> web.Application:
    """The GUI application; the hub (informers, flusher) starts and stops with the app."""
    app = web.Application()
    app.on_response_prepare.append(security_headers)
    hub = Hub(store, **hub_options)
    app[HUB_KEY] = hub
    app[TOKENS_KEY] = tokens

    async def lifecycle(app: web.Application) -> Any:
        await hub.start()
        yield
        await hub.stop()

    async def disconnect(app: web.Application) -> None:
        for client in list(hub.clients):
            hub.drop(client)

    app.cleanup_ctx.append(lifecycle)
    app.on_shutdown.append(disconnect)
    app.router.add_get("/", index)
    app.router.add_get("/api/stream", stream)
    app.router.add_get("/api/info", info)
    app.router.add_post("/api/environments/{name}/{action}", action)
    app.router.add_static("/static/", STATIC_DIR, append_version=False)
    return app


async def serve(app: web.Application, *, host: str, port: int, stop: asyncio.Event) -> None:
    """Serve `app` on host:port until `stop` is set; prints the bound URL on stdout first."""
    runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=2.0)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound_host, bound_port = runner.addresses[0][:2] if runner.addresses else (host, port)
        # One machine-readable line so supervisors (o2 up, tests) learn the real port.
        print(f"o2 gui listening on http://{bound_host}:{bound_port}/", flush=True)
        log.info("GUI serving", extra={"listen": f"{bound_host}:{bound_port}"})
        await stop.wait()
    finally:
        await runner.cleanup()
