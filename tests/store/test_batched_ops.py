"""The ops of a batched write, built through their slots (store.batched._compare, _put), are
the ops their dataclasses' constructors build: equal, hashable alike, every field set."""

from __future__ import annotations

import dataclasses

import pytest

from store.batched import _compare, _Pending, _put
from store.kv import Compare, Op, Put, TxnResult
from store.memory import MemoryStore
from tests.store.widget import resized, widget


@pytest.mark.parametrize(("target", "value"), [("mod", 7), ("create", 0)])
def test_a_compare_set_through_its_slots_is_its_constructors(target: str, value: int) -> None:
    built = _compare("/o2/registry/widgets/a", target, value)  # type: ignore[arg-type]
    made = Compare("/o2/registry/widgets/a", target, value)  # type: ignore[arg-type]
    assert type(built) is Compare and built == made and hash(built) == hash(made)
    assert dataclasses.astuple(built) == dataclasses.astuple(made)


@pytest.mark.parametrize(("lease", "keep"), [(0, True), (0, False), (42, False)])
def test_a_put_set_through_its_slots_is_its_constructors(lease: int, keep: bool) -> None:
    built = _put("/o2/registry/widgets/a", b"{}", lease, keep)
    made = Put("/o2/registry/widgets/a", b"{}", lease, keep_lease=keep)
    assert type(built) is Put and built == made and hash(built) == hash(made)
    assert dataclasses.astuple(built) == dataclasses.astuple(made)
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.lease = 1  # type: ignore[misc]


def test_a_pending_writes_its_cas_put_and_a_create_its_absence() -> None:
    update = _Pending(0, "k", widget("a"), 5, b"x")
    create = _Pending(1, "k", widget("a"), 0, b"x")
    assert (update.compare, update.put) == (Compare("k", "mod", 5), Put("k", b"x", keep_lease=True))
    assert (create.compare, create.put) == (Compare("k", "create", 0), Put("k", b"x"))


async def test_batched_writes_send_the_ops_of_their_constructors() -> None:
    store = MemoryStore()
    sent: list[tuple[list[Compare], list[Op]]] = []
    txn = store.kv.txn

    async def recorded(
        compares: list[Compare], success: list[Op], failure: list[Op] | None = None
    ) -> TxnResult:
        sent.append((list(compares), list(success)))
        return await txn(compares, success, failure)

    store.kv.txn = recorded  # type: ignore[method-assign]
    created = (await store.create_many([widget("a"), widget("b")])).written
    updated = (await store.update_many([resized(o, 2) for o in created])).written
    (creates, puts), (cas, writes) = sent
    keys = [store.key_for(type(o), o.name) for o in created]
    assert creates == [Compare(k, "create", 0) for k in keys]
    assert puts == [Put(k, raw) for k, raw in zip(keys, _values(puts), strict=True)]
    revisions = [o.metadata.resource_version or 0 for o in created]
    assert cas == [Compare(k, "mod", r) for k, r in zip(keys, revisions, strict=True)]
    assert writes == [
        Put(k, raw, keep_lease=True) for k, raw in zip(keys, _values(writes), strict=True)
    ]
    assert [o.spec.size for o in updated] == [2, 2]


def _values(ops: list[Op]) -> list[bytes]:
    return [op.value for op in ops if isinstance(op, Put)]
