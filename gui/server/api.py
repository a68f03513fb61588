"""The GUI's JSON API: what the page reads (info, wizard, runs, presets, live) and the writes.

Each handler parses the request, calls the plain-Python part of `gui` that does the work
(gui.wizard, gui.actions, gui.presets, gui.live, gui.runs, gui.control) and answers JSON.
Writes check the user first (gui.server.access.actor), before anything is written.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from crds.errors import AlreadyExistsError, ConflictError, NotFoundError, ValidationError
from crds.livechange import parse_change
from crds.presets import as_json as preset_json
from gui.actions import ACTIONS, NEEDS_CONFIRMATION, perform
from gui.auth import User
from gui.control import Call, Route
from gui.live import apply, live_offer, preview
from gui.presets import NoRawKeysError, NotYoursError, delete_preset, list_presets, save_preset
from gui.runs import load_history, parse_limit
from gui.server.access import HUB_KEY, SSO_KEY, TOKENS_KEY, actor, error, signed_in
from gui.wizard import Form, create, field_errors, offer


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


async def whoami(request: web.Request) -> web.Response:
    """GET /api/whoami: the signed-in user and role (the page hides what they may not do)."""
    user = signed_in(request)
    if user is None:
        return error(401, "a valid bearer token is required", auth=True)
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
        return error(400, str(exc))
    found = await load_history(
        request.app[HUB_KEY].store,
        environment=query.get("env", ""),
        detector=query.get("detector", ""),
        limit=limit,
    )
    return web.json_response(found)


async def create_environment(request: web.Request) -> web.Response:
    """POST /api/environments: the wizard's form; 422 with per-field errors when refused."""
    user = actor(request)
    if isinstance(user, web.Response):
        return user
    try:
        form = Form.parse(await request.json())
        env, event = await create(request.app[HUB_KEY].store, form, who=user.name)
    except ValueError:
        return error(400, "send the form as JSON")
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
    user = actor(request)
    if isinstance(user, web.Response):
        return user
    who = user.name
    verb = request.match_info["action"]
    if verb not in ACTIONS:
        return error(404, f"unknown action {verb!r}; one of {', '.join(ACTIONS)}")
    name = request.match_info["name"]
    try:
        result = await perform(request.app[HUB_KEY].store, name, action=verb, who=who)
    except NotFoundError:
        return error(404, f"environment/{name} not found")
    except ConflictError:
        return error(409, f"environment/{name} keeps changing; try again")
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
        return error(501, "this store keeps no presets")
    return web.json_response({"presets": [preset_json(p) for p in found]})


async def preset_write(request: web.Request) -> web.Response:
    """PUT (save the wizard's `vars` and `detectors`) or DELETE /api/presets/{workflow}/{name};
    shifters their own presets, admins anyone's."""
    user = actor(request)
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
        return error(403, str(exc))
    except NoRawKeysError:
        return error(501, "this store keeps no presets")
    except NotFoundError:
        return error(404, f"no preset {name!r} for workflow {workflow!r}")
    except ValueError:
        return error(400, "send the preset as JSON")
    except ValidationError as exc:
        return web.json_response({"error": str(exc), "fields": field_errors(exc)}, status=422)
    return web.json_response(preset_json(preset), status=201)


async def live(request: web.Request) -> web.Response:
    """GET /api/live/{name}: what the environment page may change, at which resourceVersion."""
    name = request.match_info["name"]
    try:
        return web.json_response(await live_offer(request.app[HUB_KEY].store, name))
    except NotFoundError:
        return error(404, f"environment/{name} not found")


async def live_change(request: web.Request) -> web.Response:
    """POST /api/live/{name}/preview (the diff, nothing written) or /api/live/{name} (the one
    CAS write at the preview's `resourceVersion`; 409 when the environment changed since)."""
    user = actor(request)
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
            return error(400, "send the resourceVersion the preview was computed from")
        done, event = await apply(store, name, change, resource_version=version, who=user.name)
    except NotFoundError:
        return error(404, f"environment/{name} not found")
    except ConflictError:
        return error(409, f"environment/{name} changed meanwhile: review the change again")
    except ValueError:
        return error(400, "send the change as JSON")
    except ValidationError as exc:
        return web.json_response({"error": str(exc), "fields": field_errors(exc)}, status=422)
    return web.json_response({**done.as_json(), "who": user.name, "event": event})


def mounted(route: Route) -> Callable[[web.Request], Awaitable[web.Response]]:
    """An aiohttp handler for a gui.control route: sign-in and role first for writes."""

    async def handle(request: web.Request) -> web.Response:
        user: User | None = None
        if route.acts:
            found = actor(request, admin=route.admin)
            if isinstance(found, web.Response):
                return found
            user = found
        body: dict[str, object] = {}
        if request.can_read_body:
            try:
                loaded = await request.json()
            except ValueError:
                return error(400, "send the body as JSON")
            body = loaded if isinstance(loaded, dict) else {}
        call = Call(dict(request.match_info), dict(request.query), body, user)
        reply = await route.handler(request.app[HUB_KEY].store, call)
        return web.json_response(reply.body, status=reply.status)

    return handle
