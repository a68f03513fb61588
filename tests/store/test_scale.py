"""Scale: 10,000 Task status writes through update_status_many on a real etcd (opt-in, slow)."""

from __future__ import annotations

import time

import pytest

from crds.kinds import Task
from hack.bench.store_bench import make_task, with_phase
from store.etcd import EtcdStore

pytestmark = pytest.mark.slow

COUNT = 10_000


async def test_ten_thousand_status_writes_batch_into_txns(etcd_store: EtcdStore) -> None:
    created = await etcd_store.update_status_many([])  # empty input is fine
    assert created.ok and created.written == [] and created.revision == 0
    tasks = [await etcd_store.create(make_task(i)) for i in range(COUNT)]
    start = time.perf_counter()
    result = await etcd_store.update_status_many([with_phase(t, "Finished") for t in tasks])
    elapsed = time.perf_counter() - start
    assert result.ok and len(result.written) == COUNT
    revisions = {r.metadata.resource_version for r in result.written}
    assert len(revisions) == -(-COUNT // 128)  # one etcd revision per 128-write txn
    listed = await etcd_store.list(Task)
    assert len(listed.items) == COUNT
    assert {t.status.phase for t in listed.items} == {"Finished"}
    print(f"{COUNT} status writes in {elapsed:.2f}s ({COUNT / elapsed:,.0f}/s)")
