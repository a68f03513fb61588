"""Watch registrations are matched to etcd's answers by watch id, so a late answer to a timed-out
registration never hands one key range's events to another watch (the "Node informer got the
Environment's keys" bug); the late watch is cancelled on etcd."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import aetcd.exceptions
import aetcd.rtypes
import pytest
from aetcd import rpc

from store.embedded import EmbeddedEtcd
from store.etcd.aetcd_internals import Client, Watcher
from tests.etcd_fixture import unique_prefix
from tests.waiting import eventually


class FakeEtcdStream:
    """A watch stub that records requests and answers nothing by itself (the test answers
    through `Watcher._handle_response`); ids as etcd assigns them: the client's, else its own."""

    def __init__(self) -> None:
        self.requests: list[Any] = []
        self.ids: list[int] = []
        """The id etcd gives each create request, in order."""
        self._server_ids = itertools.count(100)

    def Watch(self, requests: AsyncIterator[Any], metadata: Any = None) -> AsyncIterator[Any]:
        return self._serve(requests)

    async def _serve(self, requests: AsyncIterator[Any]) -> AsyncIterator[Any]:
        async for request in requests:
            self.requests.append(request)
            if request.HasField("create_request"):
                self.ids.append(request.create_request.watch_id or next(self._server_ids))
        return
        yield

    def cancelled(self) -> list[int]:
        return [r.cancel_request.watch_id for r in self.requests if r.HasField("cancel_request")]


def created(watch_id: int) -> Any:
    return rpc.WatchResponse(watch_id=watch_id, created=True)


def put(watch_id: int, key: bytes, revision: int) -> Any:
    kv = rpc.KeyValue(key=key, value=b"{}", mod_revision=revision)
    return rpc.WatchResponse(watch_id=watch_id, events=[rpc.Event(type=rpc.Event.PUT, kv=kv)])


async def test_late_created_answer_of_a_timed_out_watch_goes_to_no_other_watch() -> None:
    stream = FakeEtcdStream()
    watcher = Watcher(stream, timeout=0.05)
    seen_a: list[bytes] = []
    seen_b: list[bytes] = []

    async def on_a(event: Any) -> None:
        seen_a.append(event.kv.key)

    async def on_b(event: Any) -> None:
        if event is not None:  # None: the stream closed
            seen_b.append(event.kv.key)

    try:
        with pytest.raises(aetcd.exceptions.WatchTimeoutError):  # etcd too slow to answer A
            await watcher.add_callback(b"/nodes/", on_a, range_end=b"/nodes0")
        watcher._timeout = 5.0
        registering_b = asyncio.ensure_future(
            watcher.add_callback(b"/envs/", on_b, range_end=b"/envs0")
        )
        await eventually(lambda: len(stream.ids) == 2)  # B's create is in flight
        id_a, id_b = stream.ids
        assert id_a != id_b and 0 not in (id_a, id_b)

        await watcher._handle_response(created(id_a))  # A's late answer
        await watcher._handle_response(put(id_a, b"/nodes/n1", 10))
        assert not registering_b.done()  # B still waits for its own answer
        await watcher._handle_response(created(id_b))
        b = await asyncio.wait_for(registering_b, 5)
        assert b.watch_id == id_b
        await watcher._handle_response(put(id_b, b"/envs/e1", 11))
        await watcher._handle_response(put(id_a, b"/nodes/n2", 12))

        assert seen_b == [b"/envs/e1"]
        assert seen_a == []  # A's caller gave up: its watch delivers to nobody
        assert id_a in stream.cancelled()  # ... and is cancelled on etcd
        assert id_b not in stream.cancelled()
        assert set(watcher._callbacks) == {id_b}
    finally:
        await watcher.shutdown()


async def test_created_answer_during_the_timeout_leaves_no_watch_behind() -> None:
    """etcd answers just as aetcd gives up: the answer takes the lock before the timed-out wait
    gets it back, so the watch is registered, yet the caller gets the timeout. That watch must
    be dropped and cancelled rather than left delivering into a queue nobody reads."""
    stream = FakeEtcdStream()
    watcher = Watcher(stream, timeout=0.2)

    async def on_event(event: Any) -> None:
        if event is not None:  # None: the stream closed
            raise AssertionError("no caller holds this watch")

    registering = asyncio.ensure_future(watcher.add_callback(b"/a/", on_event, range_end=b"/a0"))
    try:
        await eventually(lambda: len(stream.ids) == 1)  # in flight; aetcd waits, lock released
        await watcher._lock.acquire()
        answering = asyncio.ensure_future(watcher._handle_response(created(stream.ids[0])))

        def queued_on_lock() -> int:
            return len(watcher._lock._waiters or ())

        # the answer queues on the lock first, then the timed-out wait, to take it back
        await eventually(queued_on_lock, until=lambda n: n == 1, message="the answer queued")
        await eventually(queued_on_lock, until=lambda n: n == 2, message="the timed-out wait")
        watcher._lock.release()
        with pytest.raises(aetcd.exceptions.WatchTimeoutError):
            await registering
        await answering
        assert watcher._callbacks == {}
        await eventually(lambda: stream.cancelled() == stream.ids)
    finally:
        await watcher.shutdown()


async def test_refused_create_fails_the_registration() -> None:
    stream = FakeEtcdStream()
    watcher = Watcher(stream, timeout=5.0)

    async def on_event(event: Any) -> None:
        raise AssertionError("never registered")

    registering = asyncio.ensure_future(watcher.add_callback(b"/a/", on_event, range_end=b"/a0"))
    try:
        await eventually(lambda: len(stream.ids) == 1)
        refused = rpc.WatchResponse(
            watch_id=stream.ids[0],
            created=True,
            canceled=True,
            cancel_reason="etcdserver: permission denied",
        )
        await watcher._handle_response(refused)
        with pytest.raises(aetcd.exceptions.ClientError, match="permission denied"):
            await asyncio.wait_for(registering, 5)
        assert watcher._callbacks == {}
    finally:
        await watcher.shutdown()


async def test_real_etcd_honours_our_ids_and_a_late_answer_reaches_no_other_watch(
    etcd_server: EmbeddedEtcd,
) -> None:
    """Against etcd itself: A's registration times out before etcd can answer (a tiny timeout),
    B registers at once; each watch must see only its own prefix, and etcd cancels A's."""
    url = urlsplit(etcd_server.endpoint)
    client = Client(url.hostname or "127.0.0.1", url.port or 2379, credentials=None, timeout=5)
    await client.connect()
    prefix = unique_prefix().encode()
    a, b = prefix + b"/a/", prefix + b"/b/"
    seen: dict[bytes, list[bytes]] = {a: [], b: []}
    cancelled: list[int] = []
    try:
        watcher = client.watcher()
        assert watcher is not None
        handle = watcher._handle_response

        async def spy(response: Any) -> None:
            if response.canceled and not response.created:
                cancelled.append(response.watch_id)
            await handle(response)

        watcher._handle_response = spy  # type: ignore[method-assign]

        def recorder(own: bytes) -> Any:
            async def record(event: Any) -> None:
                if isinstance(event, aetcd.rtypes.Event):  # not a Progress, nor the close
                    seen[own].append(event.kv.key)

            return record

        watcher._timeout = 1e-6
        with pytest.raises(aetcd.exceptions.WatchTimeoutError):
            await watcher.add_callback(a, recorder(a), range_end=prefix + b"/a0")
        id_a = getattr(watcher, "_creating", None)
        watcher._timeout = 5.0
        registered_b = await watcher.add_callback(b, recorder(b), range_end=prefix + b"/b0")

        for i in range(3):
            await client.put(a + b"%d" % i, b"x")
            await client.put(b + b"%d" % i, b"x")
        await eventually(lambda: len(seen[b]) >= 3)
        assert all(key.startswith(b) for key in seen[b]), seen[b]
        assert seen[a] == []
        assert id_a is not None and registered_b.watch_id == id_a + 1  # etcd kept our ids
        await eventually(lambda: id_a in cancelled)  # etcd confirms A's watch is gone
        assert set(watcher._callbacks) == {registered_b.watch_id}
    finally:
        await client.close()
