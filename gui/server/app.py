"""The GUI application: its routes, the hub's lifecycle, security headers, and serving it.

The hub (gui.hub) starts and stops with the app. The handlers live in gui.server.stream (the
SSE feed) and gui.server.api (the JSON API), the sign-in and guard middleware in
gui.server.access. The browser never sees etcd endpoints or credentials: only objects and this
server's API.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from aiohttp import web

from gui.auth import NO_TOKENS, Tokens, TrustedHeader
from gui.control import ROUTES
from gui.guard import HostPolicy
from gui.hub import FLUSH_INTERVAL, Hub
from gui.server.access import (
    HUB_KEY,
    POLICY_KEY,
    READERS_KEY,
    SSO_KEY,
    TOKENS_KEY,
    UNTRUSTED_KEY,
    guard,
)
from gui.server.api import (
    action,
    create_environment,
    info,
    live,
    live_change,
    mounted,
    preset_write,
    presets,
    runs,
    whoami,
    wizard,
)
from gui.server.stream import stream
from store.api import Store

__all__ = ["FLUSH_INTERVAL", "make_app", "serve"]

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parents[1] / "static"


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


def make_app(
    store: Store,
    *,
    tokens: Tokens = NO_TOKENS,
    read_tokens: Tokens = NO_TOKENS,
    policy: HostPolicy | None = None,
    sso: TrustedHeader | None = None,
    **hub_options: Any,
) -> web.Application:
    """The GUI application; the hub (informers, flusher) starts and stops with the app.

    Read tokens, when given, also admit the action tokens' holders: who may act may look.
    With `sso`, the user may also be named by the trusted proxy's header.
    """
    app = web.Application(middlewares=[guard])
    app.on_response_prepare.append(security_headers)
    hub = Hub(store, **hub_options)
    app[HUB_KEY] = hub
    app[TOKENS_KEY] = tokens
    readers = tokens.merged(read_tokens) if read_tokens.enabled else NO_TOKENS
    app[READERS_KEY] = readers
    app[POLICY_KEY] = policy or HostPolicy()
    if sso is not None:
        app[SSO_KEY] = sso
    app[UNTRUSTED_KEY] = set()

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
    app.router.add_get("/api/wizard", wizard)
    app.router.add_get("/api/whoami", whoami)
    app.router.add_get("/api/runs", runs)
    app.router.add_post("/api/environments", create_environment)
    app.router.add_post("/api/environments/{name}/{action}", action)
    for route in ROUTES:
        app.router.add_route(route.method, route.path, mounted(route))
    app.router.add_get("/api/presets/{workflow}", presets)
    app.router.add_put("/api/presets/{workflow}/{name}", preset_write)
    app.router.add_delete("/api/presets/{workflow}/{name}", preset_write)
    app.router.add_get("/api/live/{name}", live)
    app.router.add_post("/api/live/{name}", live_change)
    app.router.add_post("/api/live/{name}/preview", live_change)
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
