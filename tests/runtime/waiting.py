"""Waiting on conditions that have no event to await (counters in another component)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def eventually(pred: Callable[[], bool], *, within: float = 5.0) -> None:
    """Re-check `pred` every 10 ms until it holds; TimeoutError after `within` seconds."""
    async with asyncio.timeout(within):
        while not pred():  # noqa: ASYNC110 - the state lives in code that offers no event
            await asyncio.sleep(0.01)
