"""The one way tests wait for a condition that offers no event to await (state in another
process, in etcd, or in a component without a hook): re-check until it holds, and on timeout
fail saying what was awaited and what was seen last. Await an event instead wherever one exists.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")

Message = str | Callable[[], str] | None
"""What was awaited; a callable is asked only on failure (e.g. to add a process's log)."""


async def eventually(
    probe: Callable[[], T | Awaitable[T]],
    *,
    until: Callable[[T], object] = bool,
    within: float = 5.0,
    interval: float = 0.01,
    message: Message = None,
) -> T:
    """Call `probe` (sync or async) every `interval` s until `until(value)` holds; returns that
    value. AssertionError after `within` s naming the wait and the last value observed."""
    seen: list[T] = []
    try:
        async with asyncio.timeout(within) as deadline:
            while True:
                value = probe()
                if inspect.isawaitable(value):
                    value = await value
                seen[:] = [value]  # type: ignore[list-item]
                if until(value):  # type: ignore[arg-type]
                    return value  # type: ignore[return-value]
                await asyncio.sleep(interval)
    except TimeoutError:
        if not deadline.expired():
            raise  # the probe's own timeout, not ours
        raise AssertionError(_failure(probe, message, within=within, seen=seen)) from None


def eventually_sync(
    probe: Callable[[], T],
    *,
    until: Callable[[T], object] = bool,
    within: float = 5.0,
    interval: float = 0.02,
    message: Message = None,
) -> T:
    """`eventually` for code without an event loop (subprocesses watched from a sync test)."""
    deadline = time.monotonic() + within
    while True:
        value = probe()
        if until(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(_failure(probe, message, within=within, seen=[value]))
        time.sleep(interval)


def _failure(probe: Callable[..., Any], message: Message, *, within: float, seen: list[Any]) -> str:
    what = message() if callable(message) else message or _source_of(probe)
    last = repr(seen[0]) if seen else "nothing (the first check never returned)"
    return f"timed out after {within:g}s waiting for {what}; last observed: {last}"


def _source_of(probe: Callable[..., Any]) -> str:
    """The probe's source line (a lambda's text says what was awaited better than its repr)."""
    try:
        return inspect.getsource(probe).strip()
    except (OSError, TypeError):
        return repr(probe)
