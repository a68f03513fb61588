"""hack.bench.gcstats: each collection counted and timed per generation, in a file a bench
reads before and after a transition."""

from __future__ import annotations

import gc
from pathlib import Path

from hack.bench import gcstats


def test_collections_are_counted_per_generation_and_read_as_differences(tmp_path: Path) -> None:
    out = tmp_path / "manager-gc.json"
    before = gcstats.read(out)  # nothing written yet: zeros
    stats = gcstats.GcStats(out)
    gc.callbacks.append(stats)
    try:
        gc.collect(0)
        gc.collect(0)
        gc.collect(2)
    finally:
        gc.callbacks.remove(stats)
    got = gcstats.between(before, gcstats.read(out))
    assert (got["0"]["count"], got["1"]["count"], got["2"]["count"]) == (2, 0, 1)
    assert got["seconds"] == sum(got[g]["seconds"] for g in "012") > 0
    assert "manager" in gcstats.describe({"manager": got})
