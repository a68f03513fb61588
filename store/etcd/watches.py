"""Opening and cancelling aetcd watches safely under asyncio cancellation (store.etcd only).

Why this exists (the "watch stop hangs" bug): aetcd registers a watch in `Watcher.add_callback`
under the watcher's lock and waits for etcd's answer with `asyncio.wait_for`. Python 3.11's
wait_for swallows a cancellation that arrives just as the wait completes, so a task cancelled
while its watch was being set up (an informer being stopped) carried on, received the watch and
waited for events forever; `Informer.stop()` then hung. And aetcd's `Watch.cancel()` waits on the
same lock that a registration in flight holds. So here:
- a registration runs in a task of its own that nobody cancels; a cancelled caller returns at
  once and the watch, if it gets made, is cancelled as soon as it exists (no leak);
- cancelling a watch never waits on aetcd's lock: the callback is dropped at once and etcd's
  cancel request is queued on the stream (`Watcher.cancel_nowait`), or, when the stream's
  request queue is full, by a tracked task bounded in time;
- a caller waits at most `timeout` for its registration, the wait for aetcd's lock included:
  aetcd registers one watch at a time per stream and bounds only the wait for etcd's answer,
  so on a stream to a member that went away the registrations queued behind each other, each
  sitting out aetcd's whole timeout (the informers of a manager that subscribed just as an
  etcd member died stayed deaf for one timeout each, while the stream another watch had moved
  to kept answering, so their stall guard saw nothing wrong). A caller that gives up resumes
  on the next endpoint (store.etcd.backend) and the late registration is abandoned as above.
`WatchRegistry.close()` leaves no task behind.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from store.etcd.aetcd_internals import Client

log = logging.getLogger(__name__)

CLOSE_GRACE = 0.2
"""Seconds a closing store waits for watch registrations to end on their own."""


class WatchRegistry:
    """Watch registrations in flight and cancel requests waiting for room, per EtcdKV."""

    def __init__(self, *, timeout: float) -> None:
        self.timeout = timeout
        self._registering: set[asyncio.Task[Any]] = set()
        self._cancelling: set[asyncio.Task[None]] = set()

    @property
    def in_flight(self) -> int:
        """Registrations and queued cancels not finished yet (0 when idle: nothing leaked)."""
        return len(self._registering) + len(self._cancelling)

    async def open(
        self,
        client: Client,
        *,
        key: bytes,
        range_end: bytes | None,
        start: int,
        on_done: Callable[[], None],
    ) -> Any:
        """The watch (`Client.watch_batches`) from `start`; `on_done` runs once the
        registration task has finished, whether or not the caller waited for it. TimeoutError
        after `timeout` s without the watch (see the module docstring)."""
        loop = asyncio.get_running_loop()
        registering = loop.create_task(
            client.watch_batches(key, range_end=range_end, start_revision=start),
            name="etcd-watch-register",
        )
        self._registering.add(registering)
        registering.add_done_callback(self._registering.discard)
        registering.add_done_callback(lambda _: on_done())
        try:
            async with asyncio.timeout(self.timeout):
                return await asyncio.shield(registering)
        except (asyncio.CancelledError, TimeoutError):
            registering.add_done_callback(lambda task: self._abandon(client, task))
            raise

    def _abandon(self, client: Client, task: asyncio.Task[Any]) -> None:
        """A registration whose caller left: cancel the watch it made, or drop its error."""
        if task.cancelled():
            return
        if task.exception() is not None:
            return  # e.g. the client closed meanwhile: nothing was made
        self.cancel(client, task.result())

    def cancel(self, client: Client, watch: Any) -> None:
        """Stop `watch` without waiting on aetcd's lock; never blocks."""
        watcher = client.watcher()
        if watcher is None or watcher.cancel_nowait(watch.watch_id):
            return
        task = asyncio.get_running_loop().create_task(
            self._cancel_later(watcher.enqueue_cancel(watch.watch_id), watch.watch_id),
            name="etcd-watch-cancel",
        )
        self._cancelling.add(task)
        task.add_done_callback(self._cancelling.discard)

    async def _cancel_later(self, enqueue: Any, watch_id: int) -> None:
        try:
            async with asyncio.timeout(self.timeout):
                await enqueue
        except TimeoutError:
            # the stream is not draining: it is broken, and etcd drops its watches with it
            log.warning("Could not queue an etcd watch cancel", extra={"watch_id": watch_id})

    async def close(self) -> None:
        """After the clients are closed: give registrations a moment to end with the channel's
        error, then cancel whatever is left. (A registration waiting inside aetcd does not
        always see the channel close and would otherwise sit out aetcd's own 10 s timeout,
        making every store close that follows a watch take 10 s.)"""
        pending = list(self._registering)
        if pending:
            _, late = await asyncio.wait(pending, timeout=min(self.timeout, CLOSE_GRACE))
            for task in late:
                task.cancel()
        for task in list(self._cancelling):
            task.cancel()
        leftovers = [*pending, *self._cancelling]
        if leftovers:
            await asyncio.gather(*leftovers, return_exceptions=True)
