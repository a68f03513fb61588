"""Scale (opt-in, `-m slow`): 10,000 objects through a no-op controller on real etcd."""

from __future__ import annotations

import pytest

from hack.bench.runtime_bench import bench
from store.embedded import EmbeddedEtcd


@pytest.mark.slow
async def test_no_op_controller_sustains_2000_reconciles_per_second_over_10000_objects(
    etcd_server: EmbeddedEtcd,
) -> None:
    result = await bench(etcd_server.endpoint, objects=10_000, samples=200)
    assert result["resync_reconciles_per_s"] >= 2000
    assert result["watch_driven_reconciles_per_s"] >= 2000
    assert result["added_p50_ms"] <= 5.0
