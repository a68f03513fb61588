"""Races and retried writes, on MemoryKV and on real etcd: leases kept on update, delete racing
a status write, and a create/update whose first attempt applied before its reply was lost."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

import pytest

from crds.errors import AlreadyExistsError, ConflictError, NotFoundError
from store import codec
from store.config import StoreConfig, open_store
from store.embedded import EmbeddedEtcd
from store.kv import Compare, Delete, KVBackend, Op, Put, TxnResult
from store.resources import ResourceStore
from tests.etcd_fixture import unique_prefix
from tests.store.widget import Widget, WidgetStatus, widget


class ScriptedKV:
    """Passes every call to `inner`; lets a test run something just before a chosen txn, or
    apply a txn twice and answer with the second result (a retry whose first try applied)."""

    def __init__(self, inner: KVBackend) -> None:
        self.inner = inner
        self.endpoints_label = inner.endpoints_label
        self.before_delete: list[Op] = []
        self.replay_next_put = False

    async def txn(
        self, compares: Sequence[Compare], success: Sequence[Op], failure: Sequence[Op] = ()
    ) -> TxnResult:
        if self.before_delete and any(isinstance(op, Delete) for op in success):
            await self.inner.txn([], [self.before_delete.pop(0)])
        if self.replay_next_put and any(isinstance(op, Put) for op in success):
            self.replay_next_put = False
            await self.inner.txn(compares, success, failure)
        return await self.inner.txn(compares, success, failure)

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)


@pytest.fixture(params=["memory", "etcd"])
async def backend(
    request: pytest.FixtureRequest, etcd_server: EmbeddedEtcd
) -> AsyncIterator[KVBackend]:
    if request.param == "memory":
        from store.memory import MemoryKV

        yield MemoryKV()
        return
    etcd = await open_store(StoreConfig(endpoints=(etcd_server.endpoint,)))
    try:
        yield etcd.kv
    finally:
        await etcd.close()


@pytest.fixture
def scripted(backend: KVBackend) -> ScriptedKV:
    return ScriptedKV(backend)


@pytest.fixture
def store(scripted: ScriptedKV) -> ResourceStore:
    return ResourceStore(scripted, prefix=unique_prefix())  # type: ignore[arg-type]


def with_phase(obj: Widget, phase: str) -> Widget:
    return obj.model_copy(update={"status": WidgetStatus(phase=phase)})


async def test_update_keeps_the_objects_lease(store: ResourceStore) -> None:
    lease = await store.grant_lease(60)
    created = await store.create(widget("a"), lease=lease)
    spec = created.spec.model_copy(update={"size": 2})
    updated = await store.update(created.model_copy(update={"spec": spec}))
    await store.update_status(with_phase(updated, "Ready"))
    await store.revoke_lease(lease)
    with pytest.raises(NotFoundError):
        await store.get(Widget, "a")


async def test_update_with_a_lease_moves_the_object_to_it(store: ResourceStore) -> None:
    old, new = await store.grant_lease(60), await store.grant_lease(60)
    created = await store.create(widget("a"), lease=old)
    moved = await store.update(created, lease=new)  # nothing else changed: still written
    assert moved.metadata.resource_version != created.metadata.resource_version
    await store.revoke_lease(old)
    assert (await store.get(Widget, "a")).metadata.uid == created.metadata.uid
    await store.revoke_lease(new)
    with pytest.raises(NotFoundError):
        await store.get(Widget, "a")


async def test_delete_without_version_retries_when_a_status_write_lands_first(
    store: ResourceStore, scripted: ScriptedKV
) -> None:
    created = await store.create(widget("a"))
    key = store.key_for(Widget, "a")
    scripted.before_delete.append(Put(key, codec.encode(with_phase(created, "Busy"))))
    assert await store.delete(Widget, "a") is None
    assert not scripted.before_delete  # the race did happen
    with pytest.raises(NotFoundError):
        await store.get(Widget, "a")


async def test_delete_with_version_stays_a_conflict_when_a_write_lands_first(
    store: ResourceStore, scripted: ScriptedKV
) -> None:
    created = await store.create(widget("a"))
    key = store.key_for(Widget, "a")
    scripted.before_delete.append(Put(key, codec.encode(with_phase(created, "Busy"))))
    with pytest.raises(ConflictError):
        await store.delete(Widget, "a", resource_version=created.metadata.resource_version)
    assert (await store.get(Widget, "a")).status.phase == "Busy"


async def test_create_whose_first_attempt_applied_returns_the_object(
    store: ResourceStore, scripted: ScriptedKV
) -> None:
    scripted.replay_next_put = True
    created = await store.create(widget("a"))
    stored = await store.get(Widget, "a")
    assert created.metadata.uid == stored.metadata.uid
    assert created.metadata.resource_version == stored.metadata.resource_version
    with pytest.raises(AlreadyExistsError):  # someone else's object is still a conflict
        await store.create(widget("a"))


async def test_update_whose_first_attempt_applied_succeeds(
    store: ResourceStore, scripted: ScriptedKV
) -> None:
    created = await store.create(widget("a"))
    scripted.replay_next_put = True
    spec = created.spec.model_copy(update={"size": 5})
    updated = await store.update(created.model_copy(update={"spec": spec}))
    stored = await store.get(Widget, "a")
    assert (updated.spec.size, stored.spec.size) == (5, 5)
    assert updated.metadata.resource_version == stored.metadata.resource_version
    scripted.replay_next_put = True
    finished = await store.update_status(with_phase(updated, "Done"))
    assert (
        finished.metadata.resource_version
        == (await store.get(Widget, "a")).metadata.resource_version
    )
