"""The control room's node and audit API as plain functions: a request in, a reply out.

gui.server (the only package that speaks HTTP) mounts ROUTES: it signs the user in, refuses
those who may not act before any write (for `acts` routes; all but admins for `admin` ones),
and turns a Reply into JSON.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from crds.errors import ConflictError, NotFoundError
from gui.audit import load_audit
from gui.auth import User
from gui.nodes import NODE_ACTIONS, node_action, node_detail, spec_detail, steps_json
from store.api import Store


@dataclass(frozen=True)
class Call:
    """What a handler gets: path parameters, query, JSON body and the signed-in user."""

    match: Mapping[str, str]
    query: Mapping[str, str] = field(default_factory=dict)
    body: Mapping[str, object] = field(default_factory=dict)
    user: User | None = None


@dataclass(frozen=True)
class Reply:
    status: int
    body: Mapping[str, object]


Handler = Callable[[Store, Call], Awaitable[Reply]]


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Handler
    acts: bool = False
    """Writes: only a signed-in shifter or admin gets here."""
    admin: bool = False
    """With `acts`: only an admin gets here."""


def _error(status: int, message: str) -> Reply:
    return Reply(status, {"error": message})


async def get_node(store: Store, call: Call) -> Reply:
    """GET /api/nodes/{name}: the node, its tasks and what a drain would do with each."""
    name = call.match["name"]
    try:
        return Reply(200, await node_detail(store, name))
    except NotFoundError:
        return _error(404, f"node/{name} not found")


async def act_on_node(store: Store, call: Call) -> Reply:
    """POST /api/nodes/{name}/{action}: cordon, uncordon, drain ({"deleteStandalone": true}
    also deletes tasks no one owns), sync or async."""
    name, verb = call.match["name"], call.match["action"]
    if verb not in NODE_ACTIONS:
        return _error(404, f"unknown node action {verb!r}; one of {', '.join(NODE_ACTIONS)}")
    assert call.user is not None
    who = call.user.name
    delete = call.body.get("deleteStandalone") is True
    try:
        result = await node_action(store, name, action=verb, who=who, delete_standalone=delete)
    except NotFoundError:
        return _error(404, f"node/{name} not found")
    except ConflictError:
        return _error(409, f"node/{name} keeps changing; try again")
    return Reply(
        200,
        {
            "node": name,
            "action": verb,
            "who": who,
            "spec": spec_detail(result.node),
            "steps": steps_json(result.steps),
            "deleted": result.deleted,
            "event": None if result.event is None else result.event.metadata.name,
        },
    )


async def audit(store: Store, call: Call) -> Reply:
    """GET /api/audit?user=&object=: the GUI's audit Events, newest first."""
    entries = await load_audit(
        store, user=call.query.get("user", ""), obj=call.query.get("object", "")
    )
    return Reply(200, {"entries": entries})


ROUTES: tuple[Route, ...] = (
    Route("GET", "/api/nodes/{name}", get_node),
    Route("POST", "/api/nodes/{name}/{action}", act_on_node, acts=True, admin=True),
    Route("GET", "/api/audit", audit),
)
