"""Read-only calls to the Mesos master's operator endpoints (GET /master/slaves) over aiohttp.

Additive to the scheduler client: the node controller reads the agent list here. Returns the
decoded JSON; parsing into o2's view is pure (controller.nodes.inventory). The framework's
credentials go along too: a master with `--authenticate_http_readonly` requires them.
"""

from __future__ import annotations

from typing import Any

import aiohttp

from controller.mesos.access import ssl_context, transport_error
from crds.errors import MesosCallError, MesosUnavailableError
from mesosapi.auth import MesosAccess, base_url, is_tls


async def fetch_agents(
    master: str, *, deadline: float = 10.0, access: MesosAccess | None = None
) -> dict[str, Any]:
    """`GET <master>/master/slaves` as JSON (`master` is HOST:PORT or an http(s) URL);
    MesosUnavailableError when unreachable or its certificate is not trusted."""
    access = access or MesosAccess()
    url = base_url(master) + "/master/slaves"
    tls = ssl_context(access) if is_tls(url) else True
    try:
        async with (
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=tls)) as session,
            session.get(
                url, headers=access.headers(), timeout=aiohttp.ClientTimeout(total=deadline)
            ) as resp,
        ):
            if resp.status >= 300:
                raise MesosCallError(
                    "GET /master/slaves", status=resp.status, body=await resp.text()
                )
            doc = await resp.json(content_type=None)
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        raise MesosUnavailableError(f"GET {url} failed: {transport_error(exc, url)}") from exc
    if not isinstance(doc, dict):
        raise MesosCallError("GET /master/slaves", status=200, body="not a JSON object")
    return doc
