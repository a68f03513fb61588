"""A minimal Server-Sent Events reader over an aiohttp response, for tests and the benchmark."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp


async def events(response: aiohttp.ClientResponse) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    """(event name, decoded JSON data) per SSE event; comments (pings) are skipped."""
    name, data, buffer = "message", "", b""
    async for chunk in response.content.iter_any():  # lines may exceed readline's limit
        *lines, buffer = (buffer + chunk).split(b"\n")
        for raw in lines:
            line = raw.decode()
            if not line:
                if data:
                    yield name, json.loads(data)
                name, data = "message", ""
            elif line.startswith("event: "):
                name = line.removeprefix("event: ")
            elif line.startswith("data: "):
                data += line.removeprefix("data: ")
