"""The shared end-to-end helpers in tests.stack, on a real etcd: bounded waits and port slices."""

from __future__ import annotations

import asyncio

import pytest

from crds.kinds.task import Task
from store.etcd import EtcdStore
from tests.stack import PORTS_HIGH, PORTS_LOW, port_slice, wait_for
from tests.tasks.harness import sample_task


def test_port_slices_are_aligned_and_stay_below_the_ephemeral_range() -> None:
    for _ in range(200):
        base = port_slice(60)
        assert (base - PORTS_LOW) % 60 == 0
        assert base >= PORTS_LOW and base + 60 <= PORTS_HIGH < 32768


async def test_wait_for_returns_the_object_once_a_later_write_satisfies_the_check(
    etcd_store: EtcdStore,
) -> None:
    waiting = asyncio.create_task(
        wait_for(etcd_store, Task, "t1", lambda t: t is not None, within=10)
    )
    await etcd_store.create(sample_task("t1"))
    got = await waiting
    assert got is not None and got.name == "t1"


async def test_wait_for_sees_a_deletion_as_none(etcd_store: EtcdStore) -> None:
    await etcd_store.create(sample_task("t2"))
    waiting = asyncio.create_task(wait_for(etcd_store, Task, "t2", lambda t: t is None, within=10))
    await etcd_store.delete(Task, "t2")
    assert await waiting is None


async def test_wait_for_names_the_object_when_the_check_never_holds(
    etcd_store: EtcdStore,
) -> None:
    await etcd_store.create(sample_task("t3"))
    with pytest.raises(AssertionError, match="Task/t3 never got there"):
        await wait_for(etcd_store, Task, "t3", lambda t: t is None, within=0.2)
