"""etcd's Auth service: read the roles and users, and apply store.authplan's changes.

aetcd wraps no Auth call (only Authenticate, on connect), so this module calls the gRPC stub
aetcd ships (`aetcd.rpc.AuthStub`) on the channel and token of an aetcd client. Admin tooling:
one endpoint, no failover or retries; every error names what to do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

import grpc
from aetcd import rpc

from crds.errors import O2Error, StoreUnavailableError
from store.authplan import (
    AddRole,
    AddUser,
    AuthState,
    Change,
    EnableAuth,
    Grant,
    GrantRole,
    Permission,
    PermType,
    Revoke,
    RevokeRole,
    SetPassword,
)
from store.etcd.aetcd_internals import Client
from store.etcd.connection import Connection, close_quietly, credentials
from store.etcd.convert import permanent

_TYPES: dict[PermType, int] = {
    "read": rpc.Permission.READ,
    "write": rpc.Permission.WRITE,
    "readwrite": rpc.Permission.READWRITE,
}
_NAMES = {number: name for name, number in _TYPES.items()}


class AuthAdminError(O2Error):
    """etcd's auth settings could not be read or changed (says why and what to do)."""


class EtcdAuthAdmin:
    """The Auth service of the etcd at `conn`'s first endpoint. Connects without credentials
    while auth is off (etcd refuses to authenticate anyone then), with them once it is on."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.endpoint = conn.endpoints[0]
        self._client: Client | None = None

    async def __aenter__(self) -> EtcdAuthAdmin:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._client is not None:
            await close_quietly(self._client)
            self._client = None

    async def _stub(self, *, authenticated: bool) -> tuple[Any, Any]:
        if self._client is None:
            conn = self.conn if authenticated else replace(self.conn, username=None, password=None)
            url = urlsplit(self.endpoint)
            self._client = Client(
                url.hostname or "127.0.0.1",
                url.port or 2379,
                credentials=credentials(conn, url.scheme),
                username=conn.username,
                password=conn.password,
                timeout=conn.timeout,
            )
            await self._client.connect()
        return rpc.AuthStub(self._client.channel), self._client.metadata

    async def _call(self, method: str, request: Any, *, authenticated: bool = True) -> Any:
        try:
            stub, metadata = await self._stub(authenticated=authenticated)
            return await getattr(stub, method)(
                request, timeout=self.conn.timeout, metadata=metadata
            )
        except grpc.aio.AioRpcError as exc:
            raise self._error(exc) from exc
        except Exception as exc:  # aetcd's connection errors (e.g. authentication refused)
            if isinstance(exc, O2Error):
                raise
            raise AuthAdminError(f"etcd at {self.endpoint}: {exc}") from exc

    def _error(self, exc: grpc.aio.AioRpcError) -> O2Error:
        if exc.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
            return StoreUnavailableError(
                f"etcd unreachable at {self.endpoint} ({exc.details()}): check --etcd / O2_ETCD"
            )
        details = exc.details() or ""
        if _refused(exc):
            return AuthAdminError(
                f"etcd at {self.endpoint} refused to show or change its users and roles "
                f"({details}): only etcd's root user may; run with --user root and "
                "--password-file FILE (or O2_ETCD_USER=root and O2_ETCD_PASSWORD)"
            )
        return permanent(exc, user=self.conn.username)

    async def enabled(self) -> bool:
        """Whether etcd checks credentials: asked without any, and refused exactly when it
        does (RoleList, not AuthStatus, which etcd 3.4 lacks)."""
        try:
            await self._call("RoleList", rpc.AuthRoleListRequest(), authenticated=False)
        except AuthAdminError as exc:
            if isinstance(exc.__cause__, grpc.aio.AioRpcError) and _refused(exc.__cause__):
                return True
            raise
        finally:
            await self.close()
        return False

    async def state(self) -> AuthState:
        """Auth on or off, every role's permissions and every user's roles."""
        enabled = await self.enabled()
        if enabled and not (self.conn.username and self.conn.password):
            raise AuthAdminError(
                f"authentication is already enabled on etcd at {self.endpoint}: give the root "
                "user's credentials (--user root --password-file FILE, or O2_ETCD_USER=root "
                "and O2_ETCD_PASSWORD)"
            )
        listed = await self._call("RoleList", rpc.AuthRoleListRequest(), authenticated=enabled)
        roles = {}
        for name in listed.roles:
            got = await self._call("RoleGet", rpc.AuthRoleGetRequest(role=name))
            roles[name] = frozenset(_permission(p) for p in got.perm)
        users = {}
        listed = await self._call("UserList", rpc.AuthUserListRequest())
        for name in listed.users:
            got = await self._call("UserGet", rpc.AuthUserGetRequest(name=name))
            users[name] = frozenset(got.roles)
        return AuthState(enabled=enabled, roles=roles, users=users)

    async def apply(self, changes: Sequence[Change]) -> None:
        """Make each change in order (store.authplan.diff orders them as etcd needs)."""
        for change in changes:
            method, request = _request(change)
            await self._call(method, request)


def _refused(exc: grpc.aio.AioRpcError) -> bool:
    details = exc.details() or ""
    return "permission denied" in details or "user name is empty" in details


def _permission(message: Any) -> Permission:
    return Permission(
        key=message.key.decode(),
        range_end=message.range_end.decode(),
        perm=_NAMES.get(message.permType, "read"),
    )


def _request(change: Change) -> tuple[str, Any]:
    match change:
        case AddRole(role):
            return "RoleAdd", rpc.AuthRoleAddRequest(name=role)
        case Grant(role, p):
            perm = rpc.Permission(
                permType=_TYPES[p.perm], key=p.key.encode(), range_end=p.range_end.encode()
            )
            return "RoleGrantPermission", rpc.AuthRoleGrantPermissionRequest(name=role, perm=perm)
        case Revoke(role, p):
            request = rpc.AuthRoleRevokePermissionRequest(
                role=role, key=p.key.encode(), range_end=p.range_end.encode()
            )
            return "RoleRevokePermission", request
        case AddUser(user, password):
            return "UserAdd", rpc.AuthUserAddRequest(name=user, password=password)
        case SetPassword(user, password):
            request = rpc.AuthUserChangePasswordRequest(name=user, password=password)
            return "UserChangePassword", request
        case GrantRole(user, role):
            return "UserGrantRole", rpc.AuthUserGrantRoleRequest(user=user, role=role)
        case RevokeRole(user, role):
            return "UserRevokeRole", rpc.AuthUserRevokeRoleRequest(name=user, role=role)
        case EnableAuth():
            return "AuthEnable", rpc.AuthEnableRequest()
    raise AssertionError(change)
