"""An executor a cluster left running (`procs.detach`) that a cluster restarted inside the same
process adopts (tests/localmesos/test_recovery.py does so) is reaped through the Popen that
started it. Reaped by pid behind that Popen's back, it never learnt of the exit: the Popen stayed
held for good and, at interpreter exit, warned "subprocess <pid> is still running" (the
ResourceWarnings printed at the end of `make test`)."""

from __future__ import annotations

import asyncio
import signal
import subprocess
from collections.abc import Iterator

import pytest

from localmesos import procs


@pytest.fixture
def executor() -> Iterator[subprocess.Popen[bytes]]:
    """A process in a session of its own, as procs.spawn starts an executor."""
    proc = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


async def test_an_adopted_executor_started_by_this_process_is_reaped_through_its_popen(
    executor: subprocess.Popen[bytes],
) -> None:
    procs.detach(executor.pid, executor)  # the first cluster exits keeping it
    procs.adopt(executor.pid)  # the next one, in this process, adopts it by pid
    procs.kill_group(executor.pid)
    status = await asyncio.wait_for(procs.wait_adopted(executor.pid), 10)
    assert status == signal.SIGKILL  # the raw wait status, as Mesos reports it
    assert executor.returncode == -signal.SIGKILL, "its Popen does not know it exited"
