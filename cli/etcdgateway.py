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
from collections.abc import Iterator
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


PAGE = 1000
"""Keys per gateway answer. etcd's gateway spends ~0.2 ms per key marshalling JSON and
answers nothing until it is done: one answer for 50,000 Tasks (~100 MB) takes seconds, while
each page of a paged read answers within the per-page timeout."""
LATER_PAGE_TIMEOUT = 10.0
"""Seconds each page after the first may take: the first answered, so the endpoint and its
gateway work, and a slow page is a busy machine; giving up then costs far more (the caller's
fallback reads and decodes everything again)."""


def read_prefix(
    opts: GlobalOptions, start: str, *, timeout: float, keys_only: bool = False, limit: int = 0
) -> list[KeyValue]:
    """Every key starting with `start` (sorted by key), or the first `limit` of them; see
    read_pages."""
    pages = read_pages(opts, start, timeout=timeout, keys_only=keys_only, limit=limit)
    return [kv for page in pages for kv in page]


def read_pages(
    opts: GlobalOptions, start: str, *, timeout: float, keys_only: bool = False, limit: int = 0
) -> Iterator[list[KeyValue]]:
    """The keys starting with `start` in pages of at most PAGE keys (sorted by key), all read
    at the first page's revision (one consistent view, as the gRPC store's paged range). The
    first page comes from the first endpoint that answers within `timeout` (endpoints tried in
    order, as the store fails over); each later page from the same endpoint, within
    LATER_PAGE_TIMEOUT of its own. `limit` > 0: only that many keys, in one answer."""
    deadline = time.monotonic() + timeout
    last = GatewayError("no etcd endpoint")
    for endpoint in opts.endpoints:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        reader = _Pager(endpoint, opts, start, keys_only=keys_only, limit=limit)
        try:
            first = reader.page(timeout=left)
        except _FAILURES as exc:
            last = exc if isinstance(exc, GatewayError) else GatewayError(str(exc))
            continue
        yield first
        while reader.more:
            try:
                yield reader.page(timeout=LATER_PAGE_TIMEOUT)
            except _FAILURES as exc:
                raise (exc if isinstance(exc, GatewayError) else GatewayError(str(exc))) from exc
        return
    raise last


_FAILURES = (OSError, ValueError, KeyError, TypeError, GatewayError)


def read_ahead(pages: Iterator[list[KeyValue]], *, depth: int = 2) -> Iterator[list[KeyValue]]:
    """`pages`, read by a thread up to `depth` pages ahead of the caller: etcd marshals the
    next page while the caller decodes this one (read one after the other, each side waited
    for the other: 50,000 Tasks took the sum of both). A failure is raised where the page it
    stopped would have come; a caller that stops early leaves the thread to finish its page."""
    import queue
    import threading

    ahead: queue.Queue[tuple[list[KeyValue] | None, BaseException | None]] = queue.Queue(depth)
    stop = threading.Event()

    def read() -> None:
        try:
            for page in pages:
                ahead.put((page, None))
                if stop.is_set():
                    return
            ahead.put((None, None))
        except BaseException as exc:  # handed to the caller's thread, which raises it
            ahead.put((None, exc))

    threading.Thread(target=read, name="gateway-read-ahead", daemon=True).start()
    try:
        while True:
            page, failure = ahead.get()
            if failure is not None:
                raise failure
            if page is None:
                return
            yield page
    finally:
        stop.set()
        while not ahead.empty():  # unblock a thread waiting to put
            ahead.get_nowait()


class _Pager:
    """One endpoint's paged range read: the login once, then one request per page."""

    def __init__(
        self, endpoint: str, opts: GlobalOptions, start: str, *, keys_only: bool, limit: int
    ) -> None:
        self.endpoint, self.opts = endpoint, opts
        self.key, self.end = start.encode(), prefix_end(start.encode())
        self.keys_only, self.limit = keys_only, limit
        self.token: str | None = None
        self.revision = 0
        self.more = True

    def page(self, *, timeout: float) -> list[KeyValue]:
        link = _Link(self.endpoint, self.opts, timeout=timeout)
        try:
            headers = {"Content-Type": "application/json"}
            if self.opts.user and self.opts.password and self.token is None:
                login = {"name": self.opts.user, "password": self.opts.password}
                self.token = str(link.post("/v3/auth/authenticate", login, headers)["token"])
            if self.token is not None:
                headers["Authorization"] = self.token
            answer = link.post("/v3/kv/range", self._request(), headers)
        finally:
            link.close()
        kvs = answer.get("kvs", [])
        self.revision = self.revision or int(answer["header"]["revision"])
        self.more = bool(answer.get("more")) and bool(kvs) and not self.limit
        if self.more:
            self.key = base64.b64decode(kvs[-1]["key"]) + b"\x00"
        return [
            KeyValue(
                key=base64.b64decode(kv["key"]).decode(),
                value=base64.b64decode(kv.get("value", "")),
                mod_revision=int(kv.get("mod_revision", 0)),
            )
            for kv in kvs
        ]

    def _request(self) -> dict[str, Any]:
        request: dict[str, Any] = {
            "key": _b64(self.key),
            "range_end": _b64(self.end),
            "limit": self.limit or PAGE,
        }
        if self.revision:
            request["revision"] = self.revision
        if self.keys_only:
            request["keys_only"] = True
        return request


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
