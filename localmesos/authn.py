"""HTTP authentication as a Mesos 1.11 master and agent enforce it: HTTP Basic for
schedulers (and FrameworkInfo.principal must match), per-executor bearer tokens for executors.
Only when the cluster was started with it (AuthConfig); otherwise every check passes."""

from __future__ import annotations

import hmac

from aiohttp import web

from localmesos.model import Executor, Json
from mesosapi.auth import parse_basic, parse_bearer

SCHEDULER_REALM = 'Basic realm="mesos"'
EXECUTOR_REALM = 'Bearer realm="mesos-agent-executor"'


def _unauthorized(challenge: str, text: str) -> web.HTTPUnauthorized:
    return web.HTTPUnauthorized(headers={"WWW-Authenticate": challenge}, text=text)


def authenticate_framework(request: web.Request, credentials: dict[str, str]) -> str | None:
    """The authenticated principal (None when the master does not authenticate); raises 401
    with the Basic challenge for missing, malformed or wrong credentials."""
    if not credentials:
        return None
    pair = parse_basic(request.headers.get("Authorization"))
    if pair is None:
        raise _unauthorized(SCHEDULER_REALM, "Unauthorized: HTTP Basic credentials required")
    principal, secret = pair
    expected = credentials.get(principal)
    if expected is None or not hmac.compare_digest(expected.encode(), secret.encode()):
        raise _unauthorized(SCHEDULER_REALM, "Unauthorized: invalid credentials")
    return principal


def check_principal(authenticated: str | None, framework_info: Json) -> None:
    """A framework may only act as the principal it authenticated as (400, as Mesos)."""
    if authenticated is None:
        return
    claimed = framework_info.get("principal")
    if claimed != authenticated:
        raise web.HTTPBadRequest(
            text=f"Authenticated principal '{authenticated}' does not match principal "
            f"'{claimed or ''}' set in `FrameworkInfo`"
        )


def authenticate_executor(request: web.Request, executor: Executor | None) -> None:
    """401 unless the bearer token is the one this agent gave the named executor."""
    token = parse_bearer(request.headers.get("Authorization"))
    if token is None:
        raise _unauthorized(EXECUTOR_REALM, "Unauthorized: executor token required")
    expected = executor.token if executor is not None else None
    if expected is None or not hmac.compare_digest(expected.encode(), token.encode()):
        raise _unauthorized(EXECUTOR_REALM, "Unauthorized: invalid executor token")
