"""Which `Host` and `Origin` values the GUI answers. Pure: its middleware is in gui.server.access.

A page on any web site can make the operator's browser talk to the GUI on 127.0.0.1 by
rebinding its own name to 127.0.0.1 (DNS rebinding): the browser then sends that site's name
as `Host`. Answering only the loopback names (on the port the GUI serves on), the listen
address and the names the operator configured (`--public-name`, for a reverse proxy) closes
that door; everything else gets 421 Misdirected Request.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

LOOPBACK_NAMES: frozenset[str] = frozenset({"127.0.0.1", "localhost", "::1"})
WILDCARDS: frozenset[str] = frozenset({"", "0.0.0.0", "::"})


def split_host(value: str) -> tuple[str, int | None]:
    """`name[:port]` or `[v6][:port]` -> (lower-case name, port or None); ("", None) if bad."""
    value = value.strip().lower()
    if value.startswith("["):
        name, _, rest = value[1:].partition("]")
        port = rest.removeprefix(":") if rest.startswith(":") else ("" if not rest else "x")
    elif value.count(":") == 1:
        name, _, port = value.partition(":")
    else:
        name, port = value, ""
    if port and not port.isdigit():
        return "", None
    return name.rstrip("."), int(port) if port else None


@dataclass(frozen=True)
class HostPolicy:
    """Local names (checked against the served port) and public names (any port, or theirs)."""

    local_names: frozenset[str] = LOOPBACK_NAMES
    public_names: frozenset[str] = frozenset()
    """Each `name` (any port) or `name:port` (that port only), as given to --public-name."""

    @classmethod
    def build(cls, *, listen_host: str = "", public_names: tuple[str, ...] = ()) -> HostPolicy:
        local = LOOPBACK_NAMES | ({listen_host.strip("[]").lower()} - WILDCARDS)
        return cls(local, frozenset(p.strip().lower().rstrip(".") for p in public_names))

    def allows_host(self, host: str | None, *, port: int) -> bool:
        """True when `host` (a Host header) names this GUI served on local `port`."""
        if not host:
            return False
        name, given = split_host(host)
        if not name:
            return False
        if name in self.local_names:
            return given == port or (given is None and port == 80)
        if name in self.public_names:
            return True
        return given is not None and f"{name}:{given}" in self.public_names

    def allows_origin(self, origin: str | None, *, port: int) -> bool:
        """Absent Origin passes (same-origin GETs, curl); a present one must name this GUI."""
        if origin is None:
            return True
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            return False
        netloc = parts.netloc
        if parts.port is None:
            default = 443 if parts.scheme == "https" else 80
            return self.allows_host(netloc, port=port) or self._public(netloc, default)
        return self.allows_host(netloc, port=port)

    def _public(self, name: str, port: int) -> bool:
        return f"{split_host(name)[0]}:{port}" in self.public_names
