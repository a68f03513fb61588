"""Signals to processes and groups, and the kill ladder, on real processes in their own session."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest

from procutil import exits_within, kill_group, signal_group, signal_pid, terminate

IGNORES_TERM = (
    "import signal, sys, time\n"
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "print('ready', flush=True)\n"
    "time.sleep(60)\n"
)


@pytest.fixture
def group() -> Iterator[tuple[subprocess.Popen[str], int]]:
    """A shell leading its own session, and the pid of the `sleep` it started in its group."""
    leader = subprocess.Popen(
        ["/bin/sh", "-c", "sleep 60 & echo $!; wait"],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert leader.stdout is not None
    member = int(leader.stdout.readline())
    yield leader, member
    if leader.poll() is None:
        kill_group(leader.pid)
    leader.wait()
    leader.stdout.close()


def test_signal_group_reaches_every_process_of_the_group(
    group: tuple[subprocess.Popen[str], int],
) -> None:
    leader, member = group
    assert signal_group(leader.pid, signal.SIGTERM)
    assert leader.wait(timeout=10) == -signal.SIGTERM
    assert exits_within(member, 10)


def test_a_gone_group_or_process_is_reported_not_raised() -> None:
    done = subprocess.Popen(["/bin/true"], start_new_session=True)
    done.wait()
    # signal 0 checks without sending: a pid reused meanwhile must not get a real signal
    assert not signal_group(done.pid, 0)
    assert not kill_group(done.pid, 0)
    assert not signal_pid(done.pid, 0)


def test_kill_group_is_quiet_about_a_group_that_is_not_ours(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refused(pgid: int, sig: int) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "killpg", refused)
    assert not kill_group(12345)
    with pytest.raises(PermissionError):
        signal_group(12345, signal.SIGTERM)  # the precise one says so


async def test_the_ladder_stops_at_sigterm_when_the_process_obeys() -> None:
    proc = await asyncio.create_subprocess_exec("sleep", "60")
    sent: list[int] = []

    def send(sig: int) -> None:
        sent.append(sig)
        signal_pid(proc.pid, sig)

    assert await terminate(send, proc.wait, grace=10)
    assert sent == [signal.SIGTERM] and proc.returncode == -signal.SIGTERM


async def test_the_ladder_sends_sigkill_once_the_grace_has_passed() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", IGNORES_TERM, stdout=asyncio.subprocess.PIPE
    )
    assert proc.stdout is not None
    assert await proc.stdout.readline() == b"ready\n"
    sent: list[int] = []

    def send(sig: int) -> None:
        sent.append(sig)
        signal_pid(proc.pid, sig)

    loop = asyncio.get_running_loop()
    started = loop.time()
    assert not await terminate(send, proc.wait, grace=0.2)
    assert loop.time() - started >= 0.2
    assert sent == [signal.SIGTERM, signal.SIGKILL]
    assert await proc.wait() == -signal.SIGKILL


async def test_a_timed_out_wait_is_cancelled_unless_shielded() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", IGNORES_TERM, stdout=asyncio.subprocess.PIPE
    )
    assert proc.stdout is not None
    await proc.stdout.readline()
    waiting = asyncio.ensure_future(proc.wait())
    assert not await terminate(
        lambda sig: signal_pid(proc.pid, sig), lambda: asyncio.shield(waiting), grace=0.05
    )
    assert await waiting == -signal.SIGKILL  # the shielded wait lived on past the grace
