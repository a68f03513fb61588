"""RuntimeKV.allocate: a counter value recorded per claim in one txn, on MemoryStore and etcd."""

from __future__ import annotations

import asyncio
import json

import pytest

from crds.errors import FencedError
from store.api import Fence
from store.resources import ResourceStore


def keys(store: ResourceStore) -> tuple[str, str]:
    return store.runtime_key("run-number"), store.runtime_key("run-number-claims/physics-1")


async def test_the_same_claim_gets_the_same_number_and_advances_nothing(
    store: ResourceStore,
) -> None:
    counter, record = keys(store)
    first = await store.allocate(counter, record=record, claim="uid-1/after-run-0")
    again = await store.allocate(counter, record=record, claim="uid-1/after-run-0")
    assert first == again == 1
    raw = await store.get_raw(counter)
    assert raw is not None and raw.value == b"1"
    held = await store.get_raw(record)
    assert held is not None
    assert json.loads(held.value) == {"claim": "uid-1/after-run-0", "number": 1}


async def test_data_recorded_with_a_claim_comes_back_unchanged_on_a_retry(
    store: ResourceStore,
) -> None:
    counter, record = keys(store)
    claim = "uid-1/after-run-0"
    first = await store.allocate_with(counter, record=record, claim=claim, data={"t": "100"})
    again = await store.allocate_with(counter, record=record, claim=claim, data={"t": "200"})
    assert first == again == (1, {"t": "100"})
    later = await store.allocate_with(
        counter, record=record, claim="uid-1/after-run-1", data={"t": "300"}
    )
    assert later == (2, {"t": "300"})


async def test_a_new_claim_takes_the_next_number_of_the_shared_counter(
    store: ResourceStore,
) -> None:
    counter, record = keys(store)
    await store.put_raw(counter, b"41")
    assert await store.allocate(counter, record=record, claim="uid-1/after-run-0") == 42
    assert await store.increment(counter) == 43
    assert await store.allocate(counter, record=record, claim="uid-1/after-run-42") == 44


async def test_concurrent_allocators_get_distinct_consecutive_numbers(
    store: ResourceStore,
) -> None:
    counter = store.runtime_key("run-number")
    claims = [
        store.allocate(counter, record=store.runtime_key(f"claims/env-{i}"), claim="c")
        for i in range(20)
    ]
    assert sorted(await asyncio.gather(*claims)) == list(range(1, 21))


async def test_concurrent_retries_of_one_claim_share_one_number(store: ResourceStore) -> None:
    counter, record = keys(store)
    numbers = await asyncio.gather(
        *(store.allocate(counter, record=record, claim="uid-1/after-run-0") for _ in range(10))
    )
    assert set(numbers) == {1}
    raw = await store.get_raw(counter)
    assert raw is not None and raw.value == b"1"


async def test_garbage_in_the_record_is_replaced_by_a_fresh_allocation(
    store: ResourceStore,
) -> None:
    counter, record = keys(store)
    await store.put_raw(record, b"\xff not json")
    assert await store.allocate(counter, record=record, claim="c") == 1
    assert await store.allocate(counter, record=record, claim="c") == 1


async def test_a_fenced_allocation_by_a_deposed_leader_is_refused(store: ResourceStore) -> None:
    counter, record = keys(store)
    lease_key = store.lease_key("controller")
    revision = await store.create_raw(lease_key, b"me")
    assert revision is not None
    fenced = store.with_fence(Fence(lease_key, revision))
    assert await fenced.allocate(counter, record=record, claim="c") == 1
    await store.delete_raw(lease_key)
    with pytest.raises(FencedError):
        await fenced.allocate(counter, record=record, claim="d")
    assert await store.get_raw(counter) is not None
    assert await store.allocate(counter, record=record, claim="d") == 2
