"""Who is asking and what they may do, per request: the GUI's app keys, sign-in, the guard.

Every request must name this GUI in `Host` (and `Origin`, when sent): see gui.guard. With read
tokens, the API needs a token too; with a trusted SSO header (--trust-user-header), the API
needs that header or a token. Writes need a user who may act (`actor`). Errors are answered as
JSON `{"error": ...}` (`error`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from gui.auth import READ_COOKIE, Tokens, TrustedHeader, User, offered_token
from gui.guard import HostPolicy
from gui.hub import Hub

log = logging.getLogger(__name__)

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


def actor(request: web.Request, *, admin: bool = False) -> User | web.Response:
    """The signed-in user allowed to act (to administer, with `admin`), or the 403/401 answer
    (checked before any write)."""
    if not request.app[TOKENS_KEY].enabled and SSO_KEY not in request.app:
        return error(403, "actions are disabled: the GUI server was started without tokens")
    user = signed_in(request)
    if user is None:
        return error(401, "a valid bearer token is required", auth=True)
    if not user.may_act:
        return error(403, f"{user.name} is a {user.role}: only shifters and admins may act")
    if admin and not user.may_admin:
        return error(403, f"{user.name} is a {user.role}: only admins may do this")
    return user


def error(
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
        return error(421, "this GUI answers only to its own names (loopback or --public-name)")
    if not policy.allows_origin(request.headers.get("Origin"), port=port):
        return error(421, "requests from other sites' pages are refused (Origin)")
    sso = request.app.get(SSO_KEY)
    if sso is not None and request.path.startswith("/api/") and signed_in(request) is None:
        return error(
            401, f"sign in through the SSO proxy ({sso.header}) or send a token", auth=True
        )
    readers = request.app[READERS_KEY]
    if readers.enabled and request.method == "GET" and request.path.startswith("/api/"):
        offered = offered_token(
            request.headers.get("Authorization"), request.cookies.get(READ_COOKIE)
        )
        if readers.who(offered) is None:
            return error(401, "this GUI needs a read token (--read-token-file)", auth=True)
    return await handler(request)
