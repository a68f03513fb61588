"""MemoryKV's costs per read and write, and the lease and watch rules they must keep: a read or
write with no lease due looks at no lease and reads no clock; a write no watch follows makes no
watch event (a watch makes the events it delivers)."""

from __future__ import annotations

import asyncio

import pytest

from store.kv import KV, Compare, Delete, Get, KVEvent, Put
from store.memory import MemoryKV


class Clock:
    """A lease clock read by hand; `reads` counts the readings."""

    def __init__(self) -> None:
        self.now = 100.0
        self.reads = 0

    def __call__(self) -> float:
        self.reads += 1
        return self.now


async def test_reads_and_writes_read_no_clock_while_no_lease_is_due() -> None:
    clock = Clock()
    kv = MemoryKV(clock=clock)
    await kv.txn([Compare("/a", "create", 0)], [Put("/a", b"1")])
    await kv.txn([], [Put("/a", b"2"), Get("/a")])
    await kv.get("/a")
    await kv.range("/")
    assert clock.reads == 0  # no lease at all
    lease = await kv.grant_lease(10)
    await kv.txn([], [Put("/held", b"1", lease)])
    clock.reads = 0
    clock.now += 9.9
    await kv.get("/held")
    await kv.txn([], [Put("/a", b"3")])
    assert clock.reads == 2  # one reading each, and no lease due: nothing else looked at
    assert (await kv.get("/held"))[0] is not None


async def test_leases_expire_on_time_when_granted_refreshed_and_revoked() -> None:
    clock = Clock()
    kv = MemoryKV(clock=clock)
    short, long = await kv.grant_lease(5), await kv.grant_lease(20)
    await kv.txn([], [Put("/short", b"s", short), Put("/long", b"l", long)])
    clock.now += 4
    assert await kv.refresh_lease(short) == 5  # now due at +9
    clock.now += 4.9
    assert (await kv.get("/short"))[0] is not None
    clock.now += 0.1
    assert (await kv.get("/short"))[0] is None
    assert (await kv.get("/long"))[0] is not None
    clock.now -= 19  # an injected clock may go back: a refresh then moves the expiry earlier
    assert await kv.refresh_lease(long) == 20  # due at 110, before the 120 it was due at
    clock.now += 19.9
    assert (await kv.get("/long"))[0] is not None
    clock.now += 0.1
    assert (await kv.get("/long"))[0] is None
    third = await kv.grant_lease(1)
    await kv.txn([], [Put("/third", b"t", third)])
    await kv.revoke_lease(third)
    assert (await kv.get("/third"))[0] is None
    with pytest.raises(Exception, match="lease"):
        await kv.txn([], [Put("/x", b"x", third)])


async def test_a_write_no_watch_follows_makes_no_event_and_a_watch_gets_etcds_events(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made: list[str] = []
    make = KVEvent.__init__

    def counted(event: KVEvent, *args: object) -> None:
        made.append(str(args[0]))
        make(event, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(KVEvent, "__init__", counted)
    kv = MemoryKV()
    first = (await kv.txn([], [Put("/w/a", b"1")])).revision
    await kv.txn([], [Put("/w/b", b"2"), Put("/other", b"x")])
    deleted = (await kv.txn([], [Delete("/w/a")])).revision
    assert len(made) == 1  # the DELETE's (it keeps the value deleted); no PUT's
    stream = kv.watch("/w/", start_revision=first, prefix=True)
    seen = [await asyncio.wait_for(anext(stream), 5) for _ in range(3)]
    await stream.aclose()  # type: ignore[attr-defined]
    assert [(e.type, e.kv.key, e.kv.value, e.revision) for e in seen] == [
        ("PUT", "/w/a", b"1", first),
        ("PUT", "/w/b", b"2", first + 1),
        ("DELETE", "/w/a", b"", deleted),
    ]
    assert [e.prev for e in seen[:2]] == [None, None]  # as etcd's backend: no PUT's prev
    assert seen[2].prev == KV("/w/a", b"1", first, first, 1, 0)
    assert len(made) == 3  # the two PUTs the watch delivered, not /other's
