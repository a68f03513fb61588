"""Reading watch streams in tests: the next change, skipping PROGRESS notifications."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from store.api import WatchEvent


async def next_change(stream: AsyncIterator[WatchEvent[Any]]) -> WatchEvent[Any]:
    """The next event that is not a PROGRESS notification (an idle watch gets those)."""
    while True:
        event = await anext(stream)
        if event.type != "PROGRESS":
            return event
