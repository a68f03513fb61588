"""Least-privilege etcd roles and users for one o2 installation, and the changes that bring an
etcd's auth settings to them. Pure: no client, no I/O; store.etcd.auth reads and writes etcd.

etcd grants permissions per key range, never per JSON field: a role that may write
`<prefix>/registry/environments/` may write an Environment's spec *and* its status. The roles:

- `o2-controller`: read and write the whole prefix (resources and their status, Events, the
  run-number counter and framework id under `runtime/`, leader election under `leases/`).
- `o2-gui`: read the whole prefix. With GUI actions enabled it also writes Environments (an
  action sets `spec.state`; etcd cannot keep it off `status`) and Events (the audit trail of
  who asked). Without actions the GUI writes nothing.
- `o2-operator`: what `o2 apply|delete|cordon|drain|config import|deploy ...` write: every kind
  under `registry/` (Tasks for drain, Nodes for cordon, Events to delete them); read only on
  `runtime/` and `leases/`, so an operator can neither take the controller's leadership nor
  move the run-number counter (a run number is never handed out twice).
- `o2-viewer`: read the whole prefix (`o2 get|describe|wait`, `etcdctl watch`).

Users carry the role of the same name; etcd itself needs a `root` user with the `root` role
before auth can be turned on. Executors get no user at all: they never talk to etcd.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

PermType = Literal["read", "write", "readwrite"]
ROOT = "root"
CONTROLLER, GUI, OPERATOR, VIEWER = "o2-controller", "o2-gui", "o2-operator", "o2-viewer"
O2_USERS = (CONTROLLER, GUI, OPERATOR, VIEWER)


@dataclass(frozen=True, order=True)
class Permission:
    """One etcd key-range permission: keys in [key, range_end)."""

    key: str
    range_end: str
    perm: PermType
    why: str = field(default="", compare=False)


@dataclass(frozen=True)
class Role:
    name: str
    permissions: tuple[Permission, ...]
    purpose: str = ""


@dataclass(frozen=True)
class User:
    name: str
    roles: tuple[str, ...]


@dataclass(frozen=True)
class AuthPlan:
    """The roles and users an o2 installation under `prefix` needs."""

    prefix: str
    roles: tuple[Role, ...]
    users: tuple[User, ...]


def range_end(prefix: str) -> str:
    """The end of the range of every key starting with `prefix`: its last character + 1 (UTF-8
    keeps code-point order, so this is etcd's byte range too). o2's prefixes end in `/`."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def _under(prefix: str, perm: PermType, why: str) -> Permission:
    return Permission(prefix, range_end(prefix), perm, why)


def plan_for(prefix: str, *, gui_actions: bool) -> AuthPlan:
    """The roles and users for `prefix` (e.g. `/o2`); `gui_actions`: the GUI may act."""
    root = prefix.rstrip("/") + "/"
    registry = f"{root}registry/"
    everything = _under(root, "read", "every resource, runtime and lease key")
    gui_writes = (
        (
            _under(f"{registry}environments/", "readwrite", "actions set spec.state"),
            _under(f"{registry}events/", "readwrite", "the audit Event of each action"),
        )
        if gui_actions
        else ()
    )
    roles = (
        Role(
            CONTROLLER,
            (_under(root, "readwrite", "resources, status, Events, run number, leases"),),
            "the controller manager (`python -m controller`)",
        ),
        Role(GUI, (everything, *gui_writes), "the web GUI (`python -m gui`)"),
        Role(
            OPERATOR,
            (everything, _under(registry, "readwrite", "apply/delete/cordon/drain every kind")),
            "people and GitOps scripts running `o2 apply|delete|deploy|...`",
        ),
        Role(VIEWER, (everything,), "read-only dashboards, `o2 get`, `etcdctl watch`"),
    )
    users = (*(User(name, (name,)) for name in O2_USERS), User(ROOT, (ROOT,)))
    return AuthPlan(prefix=root.rstrip("/") or "/", roles=roles, users=tuple(users))


@dataclass(frozen=True)
class AuthState:
    """What etcd holds now: whether auth is on, roles' permissions and users' roles."""

    enabled: bool
    roles: Mapping[str, frozenset[Permission]]
    users: Mapping[str, frozenset[str]]


@dataclass(frozen=True)
class AddRole:
    role: str


@dataclass(frozen=True)
class Grant:
    role: str
    permission: Permission


@dataclass(frozen=True)
class Revoke:
    role: str
    permission: Permission


@dataclass(frozen=True)
class AddUser:
    user: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class SetPassword:
    user: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class GrantRole:
    user: str
    role: str


@dataclass(frozen=True)
class RevokeRole:
    user: str
    role: str


@dataclass(frozen=True)
class EnableAuth:
    pass


Change = AddRole | Grant | Revoke | AddUser | SetPassword | GrantRole | RevokeRole | EnableAuth


class MissingPasswordError(ValueError):
    """A user must be created (or its password reset) and no password was given for it."""

    def __init__(self, users: Sequence[str]) -> None:
        self.users = tuple(users)
        super().__init__(", ".join(users))


def diff(
    plan: AuthPlan,
    state: AuthState,
    *,
    passwords: Mapping[str, str],
    enable: bool = False,
    reset_passwords: bool = False,
) -> list[Change]:
    """The changes that make `state` match `plan`, in an order etcd accepts (roles before the
    users granted them; auth enabled last). Permissions and roles that `plan` does not give an
    o2 role or user are revoked; other roles and users, and root's extra roles, are left alone.
    Existing users keep their password unless `reset_passwords`. MissingPasswordError lists
    every user that needs a password and has none in `passwords`."""
    changes: list[Change] = [AddRole(ROOT)] if ROOT not in state.roles else []
    for role in plan.roles:
        changes.extend(_role_changes(role, state.roles.get(role.name)))
    missing: list[str] = []
    for user in plan.users:
        changes.extend(_user_changes(user, state, passwords, missing, reset=reset_passwords))
    if missing:
        raise MissingPasswordError(missing)
    if enable and not state.enabled:
        changes.append(EnableAuth())
    return changes


def _role_changes(role: Role, current: frozenset[Permission] | None) -> list[Change]:
    changes: list[Change] = [AddRole(role.name)] if current is None else []
    have = current or frozenset()
    wanted = set(role.permissions)
    changes += [Grant(role.name, p) for p in role.permissions if p not in have]
    ranges = {(p.key, p.range_end) for p in wanted}
    # a grant on the same range replaces the old type: revoking it too would undo the grant
    changes += [
        Revoke(role.name, p) for p in sorted(have - wanted) if (p.key, p.range_end) not in ranges
    ]
    return changes


def _user_changes(
    user: User,
    state: AuthState,
    passwords: Mapping[str, str],
    missing: list[str],
    *,
    reset: bool,
) -> list[Change]:
    current = state.users.get(user.name)
    changes: list[Change] = []
    password = passwords.get(user.name)
    if current is None or reset:
        if password is None:
            missing.append(user.name)
            return []
        changes.append(
            AddUser(user.name, password) if current is None else SetPassword(user.name, password)
        )
    have = current or frozenset()
    changes += [GrantRole(user.name, r) for r in user.roles if r not in have]
    if user.name != ROOT:
        changes += [RevokeRole(user.name, r) for r in sorted(have - set(user.roles))]
    return changes


def describe(change: Change) -> str:
    """One line saying what `change` does, for people (never a password)."""
    match change:
        case AddRole(role):
            return f"add role {role}"
        case Grant(role, p):
            return f"grant {role} {p.perm} on [{p.key}, {p.range_end!r})"
        case Revoke(role, p):
            return f"revoke {p.perm} on [{p.key}, {p.range_end!r}) from {role}"
        case AddUser(user):
            return f"add user {user}"
        case SetPassword(user):
            return f"set the password of {user}"
        case GrantRole(user, role):
            return f"grant role {role} to user {user}"
        case RevokeRole(user, role):
            return f"revoke role {role} from user {user}"
        case EnableAuth():
            return "enable authentication"
    raise AssertionError(change)
