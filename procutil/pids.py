"""Is a process alive, which process is it, and waiting for any process's exit. Stdlib only.

Waits use a Linux pidfd (5.3+): readable once the process has exited, for any process, not
only our children, and without reaping it (its parent can still wait() for it). No polling.
"""

from __future__ import annotations

import asyncio
import os
import select
from pathlib import Path


def alive(pid: int) -> bool:
    """Whether process `pid` exists (a zombie not yet reaped still does)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process, but there is one
    return True


def start_time(pid: int) -> int | None:
    """The process's start time (clock ticks since boot), None when it is gone or a zombie:
    with the pid, it names one process even after the pid is reused."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] == "Z":
        return None
    return int(fields[19])


def exits_within(pid: int, timeout: float) -> bool:
    """Whether process `pid` has exited, or does within `timeout` seconds (blocks; 0 checks)."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        readable, _, _ = select.select([fd], [], [], timeout)
        return bool(readable)
    finally:
        os.close(fd)


async def wait_exit(pid: int) -> None:
    """Until process `pid` has exited, on the running event loop (bound it with
    asyncio.timeout). Returns at once when there is no such process."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    exited = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_reader(fd, exited.set)
    try:
        await exited.wait()
    finally:
        loop.remove_reader(fd)
        os.close(fd)
