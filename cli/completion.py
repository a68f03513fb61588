"""Shell completion of object NAMEs: the keys under the kind's registry prefix, read from etcd
within `NAME_TIMEOUT` (a shell waiting on a TAB must not hang on an unreachable etcd).

Completion runs on every TAB, so it cannot pay for the gRPC client and the models (~0.4 s):
it asks etcd's JSON gateway (`POST /v3/kv/range`, keys only) with the standard library, with
the same endpoints, prefix, TLS files and user as the command would use. Any failure gives no
candidates, never an error on the terminal. Edge I/O.
"""

from __future__ import annotations

import base64
import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from cli.options import ENV_VARS, GlobalOptions, options_from_env
from crds.kindnames import plural_for

if TYPE_CHECKING:
    import ssl

NAME_TIMEOUT = 1.0
"""Seconds a NAME completion may wait for etcd, all endpoints together."""
NAME_LIMIT = 1000
"""Candidates read at most (a shell lists them all: more is noise)."""


def complete_name(ctx: typer.Context, incomplete: str) -> list[str]:
    """Names of the KIND typed before, starting with `incomplete`, minus those already typed."""
    plural = plural_for(str(ctx.params.get("kind") or ""))
    if plural is None:
        return []
    typed = ctx.params.get("names") or []
    try:
        names = read_names(completion_options(ctx), plural, incomplete, timeout=NAME_TIMEOUT)
    except (OSError, ValueError, KeyError, TypeError):
        return []
    return [n for n in names if n not in typed]


def completion_options(ctx: typer.Context) -> GlobalOptions:
    """The root flags typed so far (`o2 --etcd URL get env <TAB>`), else the O2_* variables."""
    given: dict[str, Any] = ctx.find_root().params
    env = options_from_env()
    password = env.password
    password_file = given.get("password_file")
    if password_file:
        password = Path(password_file).read_text(encoding="utf-8").strip()
    return GlobalOptions(
        etcd=given.get("etcd") or env.etcd,
        prefix=given.get("prefix") or env.prefix,
        cacert=given.get("cacert") or env.cacert,
        cert=given.get("cert") or env.cert,
        key=given.get("key") or env.key,
        user=given.get("user") or env.user,
        password=password or os.environ.get(ENV_VARS["password"]) or None,
    )


def read_names(opts: GlobalOptions, plural: str, start: str, *, timeout: float) -> list[str]:
    """Object names under `<prefix>/registry/<plural>/` starting with `start`, from the first
    endpoint that answers within the time left of `timeout`."""
    base = f"{opts.prefix.rstrip('/') or ''}/registry/{plural}/"
    deadline = time.monotonic() + timeout
    last: Exception = OSError("no etcd endpoint")
    for endpoint in opts.endpoints:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        try:
            keys = _range_keys(_url(endpoint, opts), base + start, opts, timeout=left)
        except (OSError, ValueError, KeyError) as exc:
            last = exc
            continue
        return sorted(k[len(base) :] for k in keys if "/" not in k[len(base) :])
    raise last


def _url(endpoint: str, opts: GlobalOptions) -> str:
    if "://" in endpoint:
        return endpoint.rstrip("/")
    scheme = "https" if opts.cacert or opts.cert else "http"
    return f"{scheme}://{endpoint}"


def _range_keys(url: str, start: str, opts: GlobalOptions, *, timeout: float) -> list[str]:
    headers = {"Content-Type": "application/json"}
    if opts.user and opts.password:
        login = {"name": opts.user, "password": opts.password}
        headers["Authorization"] = str(
            _post(url, "/v3/auth/authenticate", login, headers=headers, opts=opts, timeout=timeout)[
                "token"
            ]
        )
    key = start.encode()
    request = {
        "key": _b64(key),
        "range_end": _b64(_prefix_end(key)),
        "keys_only": True,
        "limit": NAME_LIMIT,
    }
    answer = _post(url, "/v3/kv/range", request, headers=headers, opts=opts, timeout=timeout)
    return [base64.b64decode(kv["key"]).decode() for kv in answer.get("kvs", [])]


def _post(
    url: str,
    path: str,
    body: dict[str, Any],
    *,
    headers: dict[str, str],
    opts: GlobalOptions,
    timeout: float,
) -> dict[str, Any]:
    import urllib.request  # imports ssl: only when a NAME is completed

    request = urllib.request.Request(
        url + path, data=json.dumps(body).encode(), headers=headers, method="POST"
    )
    context = _tls(opts) if url.startswith("https://") else None
    with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
        answer = json.loads(response.read())
    if not isinstance(answer, dict):
        raise ValueError("etcd answered with no object")
    return answer


def _tls(opts: GlobalOptions) -> ssl.SSLContext:
    import ssl

    context = ssl.create_default_context(cafile=opts.cacert)
    if opts.cert:
        context.load_cert_chain(opts.cert, opts.key)
    return context


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _prefix_end(key: bytes) -> bytes:
    """The end of the range of keys starting with `key` (etcd's prefix end)."""
    stripped = key.rstrip(b"\xff")
    return stripped[:-1] + bytes([stripped[-1] + 1]) if stripped else b"\x00"
