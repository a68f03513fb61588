"""A watch registration is bounded as a whole, the wait for aetcd's one-at-a-time lock included:
behind a stream to an etcd member that went away, queued registrations each sat out aetcd's
whole timeout, one after the other, and the informers waiting for them stayed deaf that long
(seen in the chaos soak: a new leader's caches 19 s behind). The caller gets TimeoutError
after `timeout` s (the etcd store then resumes on the next endpoint), and a registration that
completes later is cancelled, not leaked."""

from __future__ import annotations

import asyncio
from typing import Any

from store.etcd.watches import WatchRegistry
from tests.waiting import eventually

TIMEOUT = 0.2


class StuckClient:
    """A client whose watch registrations wait until released (as behind aetcd's lock)."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.cancelled: list[int] = []

    async def watch_batches(self, key: bytes, **_: Any) -> Any:
        await self.release.wait()
        return type("Watch", (), {"watch_id": 7})()

    def watcher(self) -> StuckClient:
        return self

    def cancel_nowait(self, watch_id: int) -> bool:
        self.cancelled.append(watch_id)
        return True


async def test_a_registration_stuck_behind_another_gives_up_after_the_timeout() -> None:
    registry = WatchRegistry(timeout=TIMEOUT)
    client = StuckClient()
    done: list[bool] = []
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        await asyncio.wait_for(
            registry.open(
                client,  # type: ignore[arg-type]
                key=b"/k",
                range_end=None,
                start=1,
                on_done=lambda: done.append(True),
            ),
            timeout=100 * TIMEOUT,  # the test's own bound: before the fix it waited forever
        )
    except TimeoutError:
        assert loop.time() - started < 50 * TIMEOUT, "gave up only at the test's own bound"
    else:
        raise AssertionError("a registration that never completes returned a watch")
    assert registry.in_flight == 1 and not done
    client.release.set()  # the late registration completes: its watch is cancelled at once
    await eventually(lambda: registry.in_flight == 0, within=2)
    assert client.cancelled == [7] and done == [True]
