"""Scale (`-m slow`): 10,000 objects through a no-op controller on real etcd.

The rates (2,000 reconciles/s, 5 ms added delay) are goals of `hack.bench.runtime_bench`, not
assertions here: under a loaded test run the machine decides them. This test holds what must be
true at any speed: every object is reconciled by the initial sync, by a full resync and after
an update through etcd, and each probe write reaches its reconcile."""

from __future__ import annotations

import pytest

from hack.bench.runtime_bench import bench
from store.embedded import EmbeddedEtcd


@pytest.mark.slow
async def test_no_op_controller_reconciles_each_of_10000_objects_on_every_path(
    etcd_server: EmbeddedEtcd,
) -> None:
    # bench() waits (up to 120 s per pass) for exactly `objects` reconciles on each path and
    # raises TimeoutError if one is missing, so reaching the result is the assertion.
    result = await bench(etcd_server.endpoint, objects=10_000, samples=50)
    assert result["objects"] == 10_000
    for rate in ("initial_sync_reconciles_per_s", "resync_reconciles_per_s"):
        assert result[rate] > 0
    assert result["watch_driven_reconciles_per_s"] > 0
    for path in ("initial_sync", "resync", "watch_driven"):
        assert result[f"{path}_cpu_us_per_object"] > 0
    assert 0 < result["write_to_reconcile_p50_ms"] <= result["write_to_reconcile_p99_ms"]
