"""Read-only calls to the Mesos master's operator endpoints (GET /master/slaves) over aiohttp.

Additive to the scheduler client: the node controller reads the agent list here. Returns the
decoded JSON; parsing into o2's view is pure (controller.nodes.inventory).
"""

from __future__ import annotations

from typing import Any

import aiohttp

from crds.errors import MesosCallError, MesosUnavailableError


async def fetch_agents(master: str, *, deadline: float = 10.0) -> dict[str, Any]:
    """`GET http://<master>/master/slaves` as JSON; MesosUnavailableError when unreachable."""
    url = f"http://{master}/master/slaves"
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.get(url, timeout=aiohttp.ClientTimeout(total=deadline)) as resp,
        ):
            if resp.status >= 300:
                raise MesosCallError(
                    "GET /master/slaves", status=resp.status, body=await resp.text()
                )
            doc = await resp.json(content_type=None)
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        raise MesosUnavailableError(f"GET {url} failed: {exc}") from exc
    if not isinstance(doc, dict):
        raise MesosCallError("GET /master/slaves", status=200, body="not a JSON object")
    return doc
