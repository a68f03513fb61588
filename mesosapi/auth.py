"""How o2 reaches a Mesos master or agent: base URLs (http or https) and the Authorization
headers Mesos' HTTP authentication expects. Pure: no network, no files; the clients add I/O.

Mesos authenticates frameworks with HTTP Basic (`principal:secret`, and FrameworkInfo.principal
must name the same principal) and executors with the bearer token the agent hands them in
MESOS_EXECUTOR_AUTHENTICATION_TOKEN. Without TLS both travel readable, so callers warn.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass, field

SCHEMES = ("http://", "https://")
EXECUTOR_TOKEN_ENV = "MESOS_EXECUTOR_AUTHENTICATION_TOKEN"


def base_url(endpoint: str) -> str:
    """`host:port` -> `http://host:port`; `http(s)://host:port[/]` as given, without the
    trailing slash. ValueError for any other scheme (a typo must not silently mean http)."""
    text = endpoint.strip().rstrip("/")
    if "://" not in text:
        return f"http://{text}"
    if not text.startswith(SCHEMES):
        raise ValueError(f"{endpoint!r}: a Mesos address is HOST:PORT, http://… or https://…")
    return text


def is_tls(url: str) -> bool:
    return base_url(url).startswith("https://")


def netloc(url: str) -> str:
    """`host:port` of a base URL (what logs and FrameworkInfo-style messages name)."""
    return base_url(url).split("://", 1)[1].split("/", 1)[0]


@dataclass(frozen=True)
class Credentials:
    """A framework principal and its secret (HTTP Basic); the secret never appears in repr."""

    principal: str
    secret: str = field(repr=False)

    def authorization(self) -> str:
        raw = f"{self.principal}:{self.secret}".encode()
        return "Basic " + base64.b64encode(raw).decode("ascii")


@dataclass(frozen=True)
class MesosAccess:
    """Credentials (None: anonymous, the Mesos default) and the CA bundle that verifies https
    masters (None: the system's CAs)."""

    credentials: Credentials | None = None
    ca_file: str | None = None

    def headers(self) -> dict[str, str]:
        if self.credentials is None:
            return {}
        return {"Authorization": self.credentials.authorization()}

    @property
    def principal(self) -> str | None:
        return self.credentials.principal if self.credentials else None


def bearer_authorization(token: str) -> str:
    return f"Bearer {token}"


def parse_basic(header: str | None) -> tuple[str, str] | None:
    """`(principal, secret)` from an `Authorization: Basic …` header; None if absent or
    malformed (the server answers 401 either way)."""
    if not header or not header.startswith("Basic "):
        return None
    try:
        decoded = base64.b64decode(header[len("Basic ") :].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    principal, sep, secret = decoded.partition(":")
    return (principal, secret) if sep else None


def parse_bearer(header: str | None) -> str | None:
    if not header or not header.startswith("Bearer "):
        return None
    return header[len("Bearer ") :].strip() or None


def plaintext_credentials_warning(urls: Sequence[str], access: MesosAccess) -> str | None:
    """Why the framework secret would cross the network readable, or None."""
    if access.credentials is None:
        return None
    plain = [u for u in urls if not is_tls(u)]
    if not plain:
        return None
    return (
        f"warning: the Mesos secret of principal {access.credentials.principal!r} is sent "
        f"unencrypted to {', '.join(base_url(u) for u in plain)}: use https:// masters "
        "(and --mesos-ca-file / $O2_MESOS_CA_FILE for a private CA)"
    )
