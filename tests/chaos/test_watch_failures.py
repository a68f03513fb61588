"""The soak's own watches: one that ended before the soak stopped it is a violation, also when
it ended cancelled without being cancelled (gRPC raises CancelledError in a call whose channel
was closed). Reading such a task's exception re-raised CancelledError and crashed the soak
after it had converged, so it wrote no results."""

from __future__ import annotations

import asyncio

from hack.chaos.__main__ import watch_failures


async def test_a_watch_that_ended_cancelled_or_failed_is_reported_and_a_running_one_is_not() -> (
    None
):
    async def cancelled_by_a_call() -> None:
        raise asyncio.CancelledError  # as a gRPC call on a closed channel does

    async def failing() -> None:
        raise RuntimeError("boom")

    running = asyncio.create_task(asyncio.sleep(60), name="running watch")
    ended = asyncio.create_task(cancelled_by_a_call(), name="leader sampler")
    failed = asyncio.create_task(failing(), name="observer watch")
    await asyncio.wait([ended, failed])
    try:
        problems = watch_failures([running, ended, failed])
    finally:
        running.cancel()
    assert problems == [
        "leader sampler stopped: cancelled",
        "observer watch failed: RuntimeError('boom')",
    ]
