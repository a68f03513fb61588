"""The GUI's HTTP server (aiohttp): static app, the SSE feed and token-guarded actions.

The only module in `gui` that imports aiohttp. The hub (gui.hub) feeds every connected
browser; a browser that falls too far behind is disconnected, and reconnects to a fresh
snapshot. Every request must name this GUI in `Host` (and `Origin`, when sent): see gui.guard.
With read tokens, the API needs a token too; with a trusted SSO header (--trust-user-header),
the API needs that header or a token. The browser never sees etcd endpoints or
credentials: only objects and this server's API.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from crds.errors import AlreadyExistsError, ConflictError, NotFoundError, ValidationError
from crds.livechange import parse_change
from crds.presets import as_json as preset_json
from gui.actions import ACTIONS, NEEDS_CONFIRMATION, perform
from gui.auth import NO_TOKENS, READ_COOKIE, Tokens, TrustedHeader, User, offered_token
from gui.control import ROUTES, Call, Route
from gui.feed import SSE_PING, SSE_RETRY
from gui.guard import HostPolicy
from gui.hub import FLUSH_INTERVAL, Client, Hub
from gui.live import apply, live_offer, preview
from gui.presets import NoRawKeysError, NotYoursError, delete_preset, list_presets, save_preset
from gui.runs import load_history, parse_limit
from gui.wizard import Form, create, field_errors, offer
from store.api import Store

__all__ = ["FLUSH_INTERVAL", "HUB_KEY", "make_app", "serve"]

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"
PING_INTERVAL = 15.0
WRITE_CHUNK = 64 * 1024
"""The shared snapshot goes out in slices: a stalled browser pins one slice, not a copy."""

HUB_KEY = web.AppKey("hub", Hub)
TOKENS_KEY = web.AppKey("tokens", Tokens)
READERS_KEY = web.AppKey("readers", Tokens)
"""Who may read the API: empty means anyone who can reach the GUI (the default)."""
POLICY_KEY = web.AppKey("policy", HostPolicy)
SSO_KEY = web.AppKey("sso", TrustedHeader)
"""Set only with --trust-user-header: the proxy's header names the user."""
UNTRUSTED_KEY = web.AppKey("untrusted", set[str])
"""Peers already logged for naming a user in the SSO header without being a trusted proxy."""
MAX_UNTRUSTED_LOGGED = 1024
"""Distinct such peers logged at most (a scan from many addresses must not grow memory)."""


async def stream(request: web.Request) -> web.StreamResponse:
    """SSE: a snapshot (also after any reconnect, Last-Event-ID or not), then deltas."""
    hub = request.app[HUB_KEY]
    await hub.wait_synced()
    if hub.full:
        message = (
            f"too many live GUI pages ({hub.max_clients}, the --max-clients limit): "
            "close some, or restart the GUI with a higher --max-clients"
        )
        return _error(503, message, retry_after=True)
    transport = request.transport
    if transport is None:
        return _error(400, "the connection closed")
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


async def info(request: web.Request) -> web.Response:
    """What the page needs to know about the server (never credentials or endpoints)."""
    hub = request.app[HUB_KEY]
    return web.json_response(
        {
            "actions": request.app[TOKENS_KEY].enabled or SSO_KEY in request.app,
            "sso": SSO_KEY in request.app,
            "actionNames": list(ACTIONS),
            "confirm": sorted(NEEDS_CONFIRMATION),
            "revision": hub.feed.revision,
            "clients": len(hub.clients),
            "bytesSent": hub.bytes_sent,
        }
    )


def signed_in(request: web.Request) -> User | None:
    """The bearer token's user, else (with --trust-user-header only) the header's user when
    the request comes from a trusted proxy; from anyone else the header is ignored."""
    user = request.app[TOKENS_KEY].user(request.headers.get("Authorization"))
    sso = request.app.get(SSO_KEY)
    if user is not None or sso is None:
        return user
    value = request.headers.get(sso.header)
    if value and not sso.trusts(request.remote):
        _untrusted(request, sso.header)
    return sso.user(value, peer=request.remote)


def _untrusted(request: web.Request, header: str) -> None:
    """Log, once per peer address, a request naming its user from outside --trusted-proxy."""
    warned = request.app[UNTRUSTED_KEY]
    peer = request.remote or "?"
    if peer in warned or len(warned) >= MAX_UNTRUSTED_LOGGED:
        return
    warned.add(peer)
    log.warning(
        "a request named its user in the SSO header from an address that is not a trusted "
        "proxy: header ignored (add the proxy's address with --trusted-proxy if it is one)",
        extra={"peer": peer, "header": header, "path": request.path},
    )


def _actor(request: web.Request, *, admin: bool = False) -> User | web.Response:
    """The signed-in user allowed to act (to administer, with `admin`), or the 403/401 answer
    (checked before any write)."""
    if not request.app[TOKENS_KEY].enabled and SSO_KEY not in request.app:
        return _error(403, "actions are disabled: the GUI server was started without tokens")
    user = signed_in(request)
    if user is None:
        return _error(401, "a valid bearer token is required", auth=True)
    if not user.may_act:
        return _error(403, f"{user.name} is a {user.role}: only shifters and admins may act")
    if admin and not user.may_admin:
        return _error(403, f"{user.name} is a {user.role}: only admins may do this")
    return user


async def whoami(request: web.Request) -> web.Response:
    """GET /api/whoami: the signed-in user and role (the page hides what they may not do)."""
    user = signed_in(request)
    if user is None:
        return _error(401, "a valid bearer token is required", auth=True)
    return web.json_response(
        {"name": user.name, "role": user.role, "mayAct": user.may_act, "mayAdmin": user.may_admin}
    )


async def wizard(request: web.Request) -> web.Response:
    """GET /api/wizard: the workflows, detectors and states the new-environment form offers."""
    return web.json_response(await offer(request.app[HUB_KEY].store))


async def runs(request: web.Request) -> web.Response:
    """GET /api/runs?env=&detector=&limit=: finished runs from the run log, newest first, and
    the points of the transition-time vs task-count plot."""
    query = request.query
    try:
        limit = parse_limit(query.get("limit"))
    except ValueError as exc:
        return _error(400, str(exc))
    found = await load_history(
        request.app[HUB_KEY].store,
        environment=query.get("env", ""),
        detector=query.get("detector", ""),
        limit=limit,
    )
    return web.json_response(found)


async def create_environment(request: web.Request) -> web.Response:
    """POST /api/environments: the wizard's form; 422 with per-field errors when refused."""
    user = _actor(request)
    if isinstance(user, web.Response):
        return user
    try:
        form = Form.parse(await request.json())
        env, event = await create(request.app[HUB_KEY].store, form, who=user.name)
    except ValueError:
        return _error(400, "send the form as JSON")
    except ValidationError as exc:
        return web.json_response({"error": str(exc), "fields": field_errors(exc)}, status=422)
    except AlreadyExistsError:
        message = f"environment/{form.name} already exists: choose another name"
        return web.json_response({"error": message, "fields": {"name": message}}, status=409)
    return web.json_response(
        {"environment": env.name, "who": user.name, "event": event}, status=201
    )


async def action(request: web.Request) -> web.Response:
    """POST /api/environments/{name}/{action} with `Authorization: Bearer <token>`."""
    user = _actor(request)
    if isinstance(user, web.Response):
        return user
    who = user.name
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


async def presets(request: web.Request) -> web.Response:
    """GET /api/presets/{workflow}: the wizard's saved presets of a workflow, by name."""
    try:
        found = await list_presets(request.app[HUB_KEY].store, request.match_info["workflow"])
    except NoRawKeysError:
        return _error(501, "this store keeps no presets")
    return web.json_response({"presets": [preset_json(p) for p in found]})


async def preset_write(request: web.Request) -> web.Response:
    """PUT (save the wizard's `vars` and `detectors`) or DELETE /api/presets/{workflow}/{name};
    shifters their own presets, admins anyone's."""
    user = _actor(request)
    if isinstance(user, web.Response):
        return user
    store = request.app[HUB_KEY].store
    workflow, name = request.match_info["workflow"], request.match_info["name"]
    try:
        if request.method == "DELETE":
            await delete_preset(store, workflow, name, who=user.name, others=user.may_admin)
            return web.json_response({"deleted": name, "who": user.name})
        body = await request.json()
        preset = await save_preset(
            store, workflow, name, body, who=user.name, others=user.may_admin
        )
    except NotYoursError as exc:
        return _error(403, str(exc))
    except NoRawKeysError:
        return _error(501, "this store keeps no presets")
    except NotFoundError:
        return _error(404, f"no preset {name!r} for workflow {workflow!r}")
    except ValueError:
        return _error(400, "send the preset as JSON")
    except ValidationError as exc:
        return web.json_response({"error": str(exc), "fields": field_errors(exc)}, status=422)
    return web.json_response(preset_json(preset), status=201)


async def live(request: web.Request) -> web.Response:
    """GET /api/live/{name}: what the environment page may change, at which resourceVersion."""
    name = request.match_info["name"]
    try:
        return web.json_response(await live_offer(request.app[HUB_KEY].store, name))
    except NotFoundError:
        return _error(404, f"environment/{name} not found")


async def live_change(request: web.Request) -> web.Response:
    """POST /api/live/{name}/preview (the diff, nothing written) or /api/live/{name} (the one
    CAS write at the preview's `resourceVersion`; 409 when the environment changed since)."""
    user = _actor(request)
    if isinstance(user, web.Response):
        return user
    store, name = request.app[HUB_KEY].store, request.match_info["name"]
    try:
        body = await request.json()
        change = parse_change(body)
        if request.path.endswith("/preview"):
            return web.json_response((await preview(store, name, change)).as_json())
        version = body.get("resourceVersion")
        if not isinstance(version, int):
            return _error(400, "send the resourceVersion the preview was computed from")
        done, event = await apply(store, name, change, resource_version=version, who=user.name)
    except NotFoundError:
        return _error(404, f"environment/{name} not found")
    except ConflictError:
        return _error(409, f"environment/{name} changed meanwhile: review the change again")
    except ValueError:
        return _error(400, "send the change as JSON")
    except ValidationError as exc:
        return web.json_response({"error": str(exc), "fields": field_errors(exc)}, status=422)
    return web.json_response({**done.as_json(), "who": user.name, "event": event})


def _error(
    status: int, message: str, *, auth: bool = False, retry_after: bool = False
) -> web.Response:
    headers = {"WWW-Authenticate": 'Bearer realm="o2"'} if auth else {}
    if retry_after:
        headers["Retry-After"] = "10"
    return web.json_response({"error": message}, status=status, headers=headers)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """421 for a Host/Origin that does not name this GUI; 401 for the API without read access."""
    policy = request.app[POLICY_KEY]
    sockname = request.transport.get_extra_info("sockname") if request.transport else None
    port = int(sockname[1]) if sockname else 0
    if not policy.allows_host(request.headers.get("Host"), port=port):
        return _error(421, "this GUI answers only to its own names (loopback or --public-name)")
    if not policy.allows_origin(request.headers.get("Origin"), port=port):
        return _error(421, "requests from other sites' pages are refused (Origin)")
    sso = request.app.get(SSO_KEY)
    if sso is not None and request.path.startswith("/api/") and signed_in(request) is None:
        return _error(
            401, f"sign in through the SSO proxy ({sso.header}) or send a token", auth=True
        )
    readers = request.app[READERS_KEY]
    if readers.enabled and request.method == "GET" and request.path.startswith("/api/"):
        offered = offered_token(
            request.headers.get("Authorization"), request.cookies.get(READ_COOKIE)
        )
        if readers.who(offered) is None:
            return _error(401, "this GUI needs a read token (--read-token-file)", auth=True)
    return await handler(request)


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


def mounted(route: Route) -> Callable[[web.Request], Awaitable[web.Response]]:
    """An aiohttp handler for a gui.control route: sign-in and role first for writes."""

    async def handle(request: web.Request) -> web.Response:
        user: User | None = None
        if route.acts:
            found = _actor(request, admin=route.admin)
            if isinstance(found, web.Response):
                return found
            user = found
        body: dict[str, object] = {}
        if request.can_read_body:
            try:
                loaded = await request.json()
            except ValueError:
                return _error(400, "send the body as JSON")
            body = loaded if isinstance(loaded, dict) else {}
        call = Call(dict(request.match_info), dict(request.query), body, user)
        reply = await route.handler(request.app[HUB_KEY].store, call)
        return web.json_response(reply.body, status=reply.status)

    return handle


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
