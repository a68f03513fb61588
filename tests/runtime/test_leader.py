"""Leader election on real etcd: one leader, standby takeover, and fenced writes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from controller.runtime.leader import LeaderConfig, LeaderElector
from crds.errors import FencedError
from store.config import StoreConfig, open_store
from store.embedded import EmbeddedEtcd
from store.etcd import EtcdStore
from tests.etcd_fixture import unique_prefix
from tests.runtime.gadget import Gadget, gadget

FAST = LeaderConfig(ttl=2, renew_deadline=1.3, retry_period=0.3)


def elector(store: EtcdStore, identity: str) -> LeaderElector:
    return LeaderElector(store, f"{store.prefix}/leases/test", identity, config=FAST)


async def test_standby_takes_over_at_once_when_the_leader_resigns(etcd_store: EtcdStore) -> None:
    a, b = elector(etcd_store, "a"), elector(etcd_store, "b")
    await asyncio.wait_for(a.campaign(), 5)
    standby = asyncio.create_task(b.campaign())
    done, _ = await asyncio.wait([standby], timeout=0.5)
    assert not done, "a second leader was elected while the first held the lease"
    loop = asyncio.get_running_loop()
    resigned = loop.time()
    await a.resign()
    fence = await asyncio.wait_for(standby, 5)
    assert loop.time() - resigned < 1.0
    held = await etcd_store.get_raw(fence.key)
    assert held is not None and held.value == b"b"
    await b.resign()


async def test_deposed_leader_write_is_rejected_by_the_fence_and_it_notices(
    etcd_store: EtcdStore,
) -> None:
    a, b = elector(etcd_store, "a"), elector(etcd_store, "b")
    fence_a = await asyncio.wait_for(a.campaign(), 5)
    holding = asyncio.create_task(a.hold())
    store_a = etcd_store.with_fence(fence_a)
    obj = await store_a.create(gadget("fenced"))
    assert a.lease is not None
    await etcd_store.revoke_lease(a.lease)  # as if a's lease expired while it was paused
    await asyncio.wait_for(b.campaign(), 5)
    with pytest.raises(FencedError):
        await store_a.update(
            obj.model_copy(update={"spec": obj.spec.model_copy(update={"value": 9})})
        )
    await asyncio.wait_for(holding, 5)  # a's hold() returned: leadership lost
    assert not a.is_leader
    stored = await etcd_store.get(Gadget, "fenced")
    assert stored.spec.value == 0
    await b.resign()


async def test_leader_keeps_its_lease_alive_beyond_the_ttl(etcd_store: EtcdStore) -> None:
    a = elector(etcd_store, "a")
    fence = await asyncio.wait_for(a.campaign(), 5)
    holding = asyncio.create_task(a.hold())
    done, _ = await asyncio.wait([holding], timeout=FAST.ttl + 1.0)
    assert not done, "leadership was lost although the lease was kept alive"
    held = await etcd_store.get_raw(fence.key)
    assert held is not None and held.create_revision == fence.create_revision
    holding.cancel()
    await asyncio.gather(holding, return_exceptions=True)
    await a.resign()


async def test_leader_steps_down_within_the_renew_deadline_when_etcd_is_unreachable(
    private_etcd: Callable[..., EmbeddedEtcd],
) -> None:
    etcd = private_etcd()
    store = await open_store(StoreConfig(endpoints=(etcd.endpoint,), prefix=unique_prefix()))
    try:
        a = elector(store, "a")
        await asyncio.wait_for(a.campaign(), 5)
        holding = asyncio.create_task(a.hold())
        await asyncio.to_thread(etcd.kill_sync)
        loop = asyncio.get_running_loop()
        killed = loop.time()
        await asyncio.wait_for(holding, FAST.renew_deadline + FAST.retry_period + 2)
        assert loop.time() - killed <= FAST.renew_deadline + FAST.retry_period + 0.5
        assert not a.is_leader
    finally:
        await store.close()
