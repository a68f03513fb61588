"""Contract of Store.create_many on both stores: batched creates, same rules as create."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from crds.errors import AlreadyExistsError, FencedError
from store import codec
from store.api import Fence
from store.kv import Compare, Op, TxnResult
from store.memory import MemoryStore
from store.resources import ResourceStore
from tests.store.widget import Widget, widget


async def test_create_many_sets_the_store_owned_fields_in_one_txn(store: ResourceStore) -> None:
    result = await store.create_many([widget("a"), widget("b")])
    assert result.ok
    a, b = result.written
    assert (a.name, b.name) == ("a", "b")
    assert a.metadata.uid and a.metadata.uid != b.metadata.uid
    assert a.metadata.generation == 1 and a.metadata.creation_timestamp is not None
    assert a.metadata.resource_version == b.metadata.resource_version  # one txn
    assert await store.get(Widget, "a") == a


async def test_create_many_batches_beyond_one_txn(store: ResourceStore) -> None:
    result = await store.create_many([widget(f"w{i}") for i in range(200)])
    assert result.ok and len(result.written) == 200
    assert len({r.metadata.resource_version for r in result.written}) == 2  # 128 + 72


async def test_create_many_reports_a_taken_name_per_item_and_creates_the_others(
    store: ResourceStore,
) -> None:
    existing = await store.create(widget("b"))
    result = await store.create_many([widget("a"), widget("b"), widget("c")])
    assert [w.name for w in result.written] == ["a", "c"]
    [(obj, error)] = result.errors
    assert obj.name == "b" and isinstance(error, AlreadyExistsError)
    assert await store.get(Widget, "b") == existing


async def test_create_many_retried_after_it_applied_returns_its_own_objects(
    store: ResourceStore,
) -> None:
    """A txn that timed out after applying is sent again: its compares fail on its own keys,
    which hold exactly its bytes, so the objects count as created (as `create` does)."""
    backend = store.backend
    txn = backend.txn

    async def applied_then_retried(
        compares: Sequence[Compare], success: Sequence[Op], failure: Sequence[Op] = ()
    ) -> TxnResult:
        await txn(compares, success, failure)
        return await txn(compares, success, failure)

    backend.txn = applied_then_retried  # type: ignore[method-assign]
    try:
        result = await store.create_many([widget("a"), widget("b")])
    finally:
        backend.txn = txn  # type: ignore[method-assign]
    assert result.ok and [w.name for w in result.written] == ["a", "b"]
    assert await store.get(Widget, "a") == result.written[0]


async def test_fenced_create_many_is_rejected_once_the_fence_is_lost(
    store: ResourceStore,
) -> None:
    lease_key = store.lease_key("controller")
    revision = await store.create_raw(lease_key, b"me")
    assert revision is not None
    fenced = store.with_fence(Fence(lease_key, revision))
    result = await fenced.create_many([widget(f"w{i}") for i in range(130)])
    assert result.ok and len(result.written) == 130  # 127 + 3 within etcd's txn limit
    await store.delete_raw(lease_key)
    await store.create_raw(lease_key, b"someone-else")
    with pytest.raises(FencedError):
        await fenced.create_many([widget("late")])


async def test_create_many_lets_the_event_loop_run_between_batches(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Thousands of creates are prepared batch by batch, yielding in between: the loop (and
    with it the leader's lease renewal) never waits for the whole set to be encoded."""
    store = MemoryStore()
    ticks = 0
    seen_at_encode: list[int] = []
    encode = codec.encode_unstamped

    def counting_encode(obj: Widget) -> bytes:
        seen_at_encode.append(ticks)
        return encode(obj)

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    monkeypatch.setattr(codec, "encode_unstamped", counting_encode)
    running = asyncio.create_task(ticker())
    try:
        result = await store.create_many([widget(f"w{i}") for i in range(300)])
    finally:
        running.cancel()
    assert result.ok and len(result.written) == 300
    assert len(set(seen_at_encode)) >= 3  # 128 + 128 + 44, the loop ran between them
