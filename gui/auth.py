"""Bearer tokens for GUI actions: the token file formats, roles and the check. Pure, no I/O.

Without tokens the GUI is read-only. A token file holds one `name:token` per line (blank lines
and `#` comments ignored); the name is who asked, recorded in the environment's Events, and
may act (role shifter). A users file holds `name:role:sha256:<hex>` lines instead: only the
token's SHA-256 is kept on disk, and the role says what its holder may do: a viewer only
looks, a shifter creates environments and acts on them, an admin may do everything. A
`name:role` line (no token) gives a role to a user signed in by a trusted SSO proxy's header
(`TrustedHeader`, `--trust-user-header`).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass, field

from crds.errors import FieldError, ValidationError

MIN_TOKEN_LENGTH = 8
ROLES: tuple[str, ...] = ("viewer", "shifter", "admin")
ACTING_ROLES: frozenset[str] = frozenset({"shifter", "admin"})
PLAIN_ROLE = "shifter"
"""The role of a `name:token` line (the older format): its holders could always act."""
_HASH = re.compile(r"^sha256:[0-9a-f]{64}$")


@dataclass(frozen=True)
class User:
    """Who a token belongs to and what they may do."""

    name: str
    role: str

    @property
    def may_act(self) -> bool:
        """Create environments and change their state (viewers only look)."""
        return self.role in ACTING_ROLES


def hash_token(token: str) -> str:
    """How a users file keeps a token: `sha256:<hex>`."""
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Tokens:
    """Token -> name (plain tokens, role shifter) and token hash -> User; empty: actions off."""

    by_token: dict[str, str]
    by_hash: dict[str, User] = field(default_factory=dict)
    roles: dict[str, str] = field(default_factory=dict)
    """Users listed without a token (`name:role`): their role when a trusted header names them."""

    @property
    def enabled(self) -> bool:
        return bool(self.by_token) or bool(self.by_hash)

    def user(self, authorization: str | None) -> User | None:
        """The User an `Authorization: Bearer <token>` header names; None if not valid."""
        if not authorization or not authorization.startswith("Bearer "):
            return None
        offered = authorization.removeprefix("Bearer ").strip()
        found = None
        for token, name in self.by_token.items():  # compare all: no early exit on a match
            if hmac.compare_digest(token.encode(), offered.encode()):
                found = User(name, PLAIN_ROLE)
        digest = hash_token(offered).encode()
        for hashed, user in self.by_hash.items():
            if hmac.compare_digest(hashed.encode(), digest):
                found = user
        return found

    def who(self, authorization: str | None) -> str | None:
        """The token's name for an `Authorization: Bearer <token>` header; None if not valid."""
        user = self.user(authorization)
        return None if user is None else user.name

    def merged(self, other: Tokens) -> Tokens:
        """Both sets of tokens (a token in both: `other` wins)."""
        return Tokens(
            {**self.by_token, **other.by_token},
            {**self.by_hash, **other.by_hash},
            {**self.roles, **other.roles},
        )


NO_TOKENS = Tokens({})


def parse_tokens(text: str, *, source: str = "token file") -> Tokens:
    """`name:token` lines -> Tokens; ValidationError naming the line for anything else."""
    by_token: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, token = (part.strip() for part in line.partition(":"))
        if not sep or not name or len(token) < MIN_TOKEN_LENGTH:
            raise _bad(source, number, f"expected `name:token`, token >= {MIN_TOKEN_LENGTH} chars")
        if token in by_token:
            raise _bad(source, number, "this token is already given to another name")
        by_token[token] = name
    return Tokens(by_token)


def parse_users(text: str, *, source: str = "users file") -> Tokens:
    """`name:role:sha256:<hex>` and `name:role` lines -> Tokens; ValidationError naming the
    line otherwise."""
    by_hash: dict[str, User] = {}
    roles: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, role, hashed = (part.strip() for part in [*line.split(":", 2), "", ""][:3])
        if not name or role not in ROLES or (hashed and not _HASH.match(hashed)):
            message = (
                f"expected `name:role:sha256:<64 hex digits>` (or `name:role` for a user signed "
                f"in by --trust-user-header) with role one of {', '.join(ROLES)} "
                "(hash a token with `printf %s TOKEN | sha256sum`)"
            )
            raise _bad(source, number, message)
        if not hashed:
            roles[name] = role
        elif hashed in by_hash:
            raise _bad(source, number, "this token is already given to another name")
        else:
            by_hash[hashed] = User(name, role)
    return Tokens({}, by_hash, roles)


def _bad(source: str, line: int, message: str) -> ValidationError:
    return ValidationError([FieldError(path=f"line {line}", message=message, source=source)])


MAX_HEADER_NAME = 256


@dataclass(frozen=True)
class TrustedHeader:
    """Sign-in by a reverse proxy doing SSO: it authenticates the user and names them in
    `header` (X-Remote-User, X-Forwarded-User, ...). Only sound when nothing but the proxy can
    reach the GUI (it binds 127.0.0.1): whoever reaches it directly could send any name."""

    header: str
    roles: dict[str, str] = field(default_factory=dict)
    """The users file's `name:role` lines; others get `default_role`."""
    default_role: str = "viewer"

    def user(self, value: str | None) -> User | None:
        """The User the header's `value` names; None when absent, empty or too long."""
        name = (value or "").strip()
        if not name or len(name) > MAX_HEADER_NAME:
            return None
        return User(name, self.roles.get(name, self.default_role))


READ_COOKIE = "o2-read"
"""Cookie the page sets from the read token it was given: EventSource cannot send headers."""


def offered_token(authorization: str | None, cookie: str | None) -> str | None:
    """The `Authorization: Bearer` header as-is, else the read cookie as a bearer header."""
    if authorization:
        return authorization
    return f"Bearer {cookie}" if cookie else None


def check_private(mode: int, *, source: str) -> None:
    """A token file anyone else on the machine can read hands them the GUI: refuse it."""
    if mode & 0o077:
        message = (
            f"mode {mode & 0o777:04o} lets group/others read or change the tokens; "
            f"run `chmod 600 {source}`"
        )
        raise ValidationError([FieldError(path="mode", message=message, source=source)])
