"""Bearer tokens for GUI actions: the token file formats, roles and the check. Pure, no I/O.

Without tokens the GUI is read-only. A token file holds one `name:token` per line (blank lines
and `#` comments ignored); the name is who asked, recorded in the environment's Events, and
has the admin role (the file predates roles and its holders could always do everything: it is
the single-operator setup). A users file holds `name:role:sha256:<hex>` lines instead: only
the token's SHA-256 is kept on disk, and the role says what its holder may do:

| action                                                       | viewer | shifter | admin |
|--------------------------------------------------------------|--------|---------|-------|
| look: pages, feed, run history, audit, presets               | yes    | yes     | yes   |
| create environments (wizard), state actions, live changes    | no     | yes     | yes   |
| save, overwrite and delete presets they saved                | no     | yes     | yes   |
| overwrite and delete presets saved by others                 | no     | no      | yes   |
| node operations: cordon, uncordon, drain, sync/async mode    | no     | no      | yes   |

A `name:role` line (no token) gives a role to a user signed in by a trusted SSO proxy's header
(`TrustedHeader`, `--trust-user-header`), honoured only on requests from the proxy's address.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
from dataclasses import dataclass, field

from crds.errors import FieldError, ValidationError

MIN_TOKEN_LENGTH = 8
ROLES: tuple[str, ...] = ("viewer", "shifter", "admin")
ACTING_ROLES: frozenset[str] = frozenset({"shifter", "admin"})
ADMIN_ROLES: frozenset[str] = frozenset({"admin"})
PLAIN_ROLE = "admin"
"""The role of a `name:token` line (the older, single-operator format): its holders could
always do everything, node operations included."""
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

    @property
    def may_admin(self) -> bool:
        """Node operations and others' presets: what one shift must not undo for the next."""
        return self.role in ADMIN_ROLES


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
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
LOOPBACK_PROXIES: tuple[Network, ...] = (
    ipaddress.ip_network("127.0.0.1/32"),
    ipaddress.ip_network("::1/128"),
)
"""Where the SSO proxy may be without --trusted-proxy: on this machine."""


def parse_proxy(text: str) -> Network:
    """An address or CIDR block (`10.0.0.5`, `10.0.0.0/24`, `::1`); ValueError otherwise."""
    return ipaddress.ip_network(text.strip(), strict=False)


def peer_in(peer: str | None, proxies: tuple[Network, ...]) -> bool:
    """True when `peer` (the connection's address, aiohttp `request.remote`) is in `proxies`;
    an IPv4 peer seen through an IPv6 socket (`::ffff:a.b.c.d`) counts as its IPv4 address."""
    try:
        address = ipaddress.ip_address((peer or "").split("%")[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in proxies)


@dataclass(frozen=True)
class TrustedHeader:
    """Sign-in by a reverse proxy doing SSO: it authenticates the user and names them in
    `header` (X-Remote-User, X-Forwarded-User, ...). Only requests whose peer address is one of
    `proxies` may name a user so: anyone else who reaches the GUI could send any name."""

    header: str
    roles: dict[str, str] = field(default_factory=dict)
    """The users file's `name:role` lines; others get `default_role`."""
    default_role: str = "viewer"
    proxies: tuple[Network, ...] = LOOPBACK_PROXIES
    """The proxies' addresses (--trusted-proxy); loopback only by default."""

    def trusts(self, peer: str | None) -> bool:
        """True when a request from `peer` may name its user in the header."""
        return peer_in(peer, self.proxies)

    def user(self, value: str | None, *, peer: str | None) -> User | None:
        """The User the header's `value` names when `peer` is a trusted proxy; None when the
        peer is not, or the value is absent, empty or too long."""
        name = (value or "").strip()
        if not name or len(name) > MAX_HEADER_NAME or not self.trusts(peer):
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
