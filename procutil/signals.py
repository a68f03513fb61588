"""Signalling processes and process groups, and the SIGTERM-then-SIGKILL ladder. Stdlib only.

Every o2 process that runs others starts them in a session of their own (`start_new_session`),
so the child's pid is its process group id and one `killpg` reaches whatever it started. The
helpers say what happened instead of raising for the usual races: the target exited already
(ProcessLookupError) or, for the best-effort kill, is no longer ours (PermissionError: its pid
or group id was reused by someone else's process).
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Awaitable, Callable


def signal_group(pgid: int, sig: int) -> bool:
    """Send `sig` to process group `pgid`; False when the group no longer exists."""
    return _send(os.killpg, pgid, sig, gone=(ProcessLookupError,))


def kill_group(pgid: int, sig: int = signal.SIGKILL) -> bool:
    """Best effort `sig` (default SIGKILL) to a group, e.g. a dead leader's stragglers; False
    when the group is gone or not ours to signal."""
    return _send(os.killpg, pgid, sig, gone=(ProcessLookupError, PermissionError))


def signal_pid(pid: int, sig: int) -> bool:
    """Send `sig` to one process; False when it no longer exists."""
    return _send(os.kill, pid, sig, gone=(ProcessLookupError,))


def _send(
    kill: Callable[[int, int], None], target: int, sig: int, *, gone: tuple[type[OSError], ...]
) -> bool:
    try:
        kill(target, sig)
    except gone:
        return False
    return True


async def terminate(
    send: Callable[[int], object], exited: Callable[[], Awaitable[object]], *, grace: float
) -> bool:
    """The kill ladder: `send(SIGTERM)`, up to `grace` seconds for `exited()`, then
    `send(SIGKILL)`. True when the process exited within the grace.

    After SIGKILL the caller decides whether to wait for the exit (a supervisor reaps its child;
    a fire-and-forget kill need not). `exited` is called once; a timeout cancels what it
    returned, so shield anything that must outlive the grace.
    """
    send(signal.SIGTERM)
    try:
        async with asyncio.timeout(grace):
            await exited()
    except TimeoutError:
        send(signal.SIGKILL)
        return False
    return True
