"""Liveness, identity and exit waits of real processes (pidfd: events, no polling)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess

from procutil import alive, exits_within, start_time, wait_exit


def test_a_running_process_is_alive_with_a_stable_start_time() -> None:
    proc = subprocess.Popen(["sleep", "60"])
    try:
        assert alive(proc.pid)
        first = start_time(proc.pid)
        assert first is not None and start_time(proc.pid) == first
        assert not exits_within(proc.pid, 0)
    finally:
        proc.kill()
        proc.wait()


def test_a_zombie_is_alive_but_has_no_start_time_and_has_exited() -> None:
    proc = subprocess.Popen(["sleep", "60"])
    os.kill(proc.pid, signal.SIGKILL)
    assert exits_within(proc.pid, 10)  # pidfd: readable on exit, without reaping
    assert alive(proc.pid)  # not reaped yet: the pid still exists
    assert start_time(proc.pid) is None
    assert proc.wait() == -signal.SIGKILL
    assert not alive(proc.pid)
    assert exits_within(proc.pid, 0)


def test_our_own_process_is_alive() -> None:
    assert alive(os.getpid()) and start_time(os.getpid()) is not None


async def test_wait_exit_returns_on_exit_and_leaves_the_reaping_to_the_parent() -> None:
    proc = await asyncio.create_subprocess_exec("sleep", "60")
    waiting = asyncio.ensure_future(wait_exit(proc.pid))
    await asyncio.sleep(0)
    assert not waiting.done()
    os.kill(proc.pid, signal.SIGKILL)
    async with asyncio.timeout(10):
        await waiting
    assert await proc.wait() == -signal.SIGKILL


async def test_wait_exit_returns_at_once_for_a_process_that_is_gone() -> None:
    proc = await asyncio.create_subprocess_exec("/bin/true")
    await proc.wait()
    async with asyncio.timeout(1):
        await wait_exit(proc.pid)
