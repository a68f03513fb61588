"""Reads through etcd's JSON gateway (`POST /v3/kv/range`) with the standard library only.

Shell completion and the raw read path of `o2 get` (cli.rawget) run on every TAB and every
listing: they cannot pay for the gRPC client, asyncio and the models (~0.4 s of imports). They
ask the gateway every etcd >= 3.4 serves on its client port, with the same endpoints, prefix,
TLS files and user as the gRPC store would use. Any failure is a `GatewayError`: callers give no
candidates, or fall back to the full path, which reports the error as every command does.
Edge I/O.
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    import http.client
    import ssl

    from cli.options import GlobalOptions


class GatewayError(Exception):
    """No endpoint answered the read in time, or one answered with something unreadable."""


@dataclass(frozen=True)
class KeyValue:
    """One key read from etcd: its key, value (empty when keys only) and mod revision."""

    key: str
    value: bytes
    mod_revision: int


def key_prefix(opts: GlobalOptions) -> str:
    """`<prefix>`, normalised as store.config does (no trailing slash; `/` stays `/`)."""
    return opts.prefix.rstrip("/") or "/"


def registry_range(opts: GlobalOptions, plural: str) -> str:
    """`<prefix>/registry/<plural>/`: the keys of one kind (store.codec.registry_prefix)."""
    return f"{key_prefix(opts)}/registry/{plural}/"


NAME_LIMIT = 1000
"""Names read at most for a completion (a shell lists them all: more is noise)."""


def read_names(opts: GlobalOptions, plural: str, start: str, *, timeout: float) -> list[str]:
    """Object names under `<prefix>/registry/<plural>/` starting with `start` (keys only), from
    the first endpoint that answers within `timeout`; OSError when none does."""
    base = registry_range(opts, plural)
    try:
        found = read_prefix(opts, base + start, timeout=timeout, keys_only=True, limit=NAME_LIMIT)
    except GatewayError as exc:
        raise OSError(str(exc)) from exc
    names = (kv.key[len(base) :] for kv in found)
    return sorted(n for n in names if "/" not in n)


def uses_tls(endpoint: str, opts: GlobalOptions) -> bool:
    """The rule of the gRPC store: TLS for https:// endpoints or when a CA or cert is given."""
    return endpoint.startswith("https://") or bool(opts.cacert or opts.cert)


def read_prefix(
    opts: GlobalOptions, start: str, *, timeout: float, keys_only: bool = False, limit: int = 0
) -> list[KeyValue]:
    """Every key starting with `start` (sorted by key), from the first endpoint that answers
    within the time left of `timeout` (endpoints tried in order, as the store fails over)."""
    deadline = time.monotonic() + timeout
    last = GatewayError("no etcd endpoint")
    for endpoint in opts.endpoints:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        try:
            return _range(endpoint, start, opts, timeout=left, keys_only=keys_only, limit=limit)
        except (OSError, ValueError, KeyError, TypeError, GatewayError) as exc:
            last = exc if isinstance(exc, GatewayError) else GatewayError(str(exc))
    raise last


def _range(
    endpoint: str, start: str, opts: GlobalOptions, *, timeout: float, keys_only: bool, limit: int
) -> list[KeyValue]:
    link = _Link(endpoint, opts, timeout=timeout)
    try:
        headers = {"Content-Type": "application/json"}
        if opts.user and opts.password:
            login = {"name": opts.user, "password": opts.password}
            headers["Authorization"] = str(
                link.post("/v3/auth/authenticate", login, headers)["token"]
            )
        key = start.encode()
        request: dict[str, Any] = {"key": _b64(key), "range_end": _b64(prefix_end(key))}
        if keys_only:
            request["keys_only"] = True
        if limit:
            request["limit"] = limit
        answer = link.post("/v3/kv/range", request, headers)
    finally:
        link.close()
    return [
        KeyValue(
            key=base64.b64decode(kv["key"]).decode(),
            value=base64.b64decode(kv.get("value", "")),
            mod_revision=int(kv.get("mod_revision", 0)),
        )
        for kv in answer.get("kvs", [])
    ]


class _Link:
    """The login and the read on one endpoint: plain HTTP through cli.plainhttp, TLS through
    `http.client` (one connection kept open for both)."""

    def __init__(self, endpoint: str, opts: GlobalOptions, *, timeout: float) -> None:
        url = urlsplit(endpoint if "://" in endpoint else f"http://{endpoint}")
        self.host = url.hostname or "127.0.0.1"
        self.deadline = time.monotonic() + timeout
        self.tls: http.client.HTTPSConnection | None = None
        if uses_tls(endpoint, opts):
            import http.client

            self.port = url.port or 443
            context = _tls(opts)
            self.tls = http.client.HTTPSConnection(
                self.host, self.port, timeout=timeout, context=context
            )
        else:
            self.port = url.port or 80

    def post(self, path: str, body: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
        data = json.dumps(body).encode()
        if self.tls is None:
            from cli.plainhttp import post

            status, raw = post(self.host, self.port, path, data, headers, deadline=self.deadline)
        else:
            self.tls.request("POST", path, body=data, headers=headers)
            response = self.tls.getresponse()
            status, raw = response.status, response.read()
        if status != 200:
            raise GatewayError(f"etcd answered {status} to {path}: {raw[:200]!r}")
        answer = json.loads(raw)
        if not isinstance(answer, dict):
            raise GatewayError(f"etcd answered {path} with no object")
        return answer

    def close(self) -> None:
        if self.tls is not None:
            self.tls.close()


def _tls(opts: GlobalOptions) -> ssl.SSLContext:
    import ssl

    context = ssl.create_default_context(cafile=opts.cacert)
    if opts.cert:
        context.load_cert_chain(opts.cert, opts.key)
    return context


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def prefix_end(key: bytes) -> bytes:
    """The end of the range of keys starting with `key` (etcd's prefix end)."""
    stripped = key.rstrip(b"\xff")
    return stripped[:-1] + bytes([stripped[-1] + 1]) if stripped else b"\x00"
