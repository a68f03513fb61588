"""The executor's memory limit samples every limited task's process group in one scan of /proc
per period: with N limited tasks, one scan reads N times fewer stat files than a scan per task
(a few hundred tasks per executor made that N scans of N processes every half second)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Collection

import pytest

from executor import memlimit

WATCHED = 50


async def test_one_scan_per_period_serves_every_limited_group(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    scans: list[set[int]] = []
    two = asyncio.Event()

    def counting(pgids: Collection[int]) -> dict[int, int]:
        scans.append(set(pgids))
        if len(scans) >= 2:
            two.set()
        return dict.fromkeys(pgids, memlimit.MB)

    monkeypatch.setattr(memlimit, "groups_rss", counting)
    monkeypatch.setattr(memlimit, "SAMPLE_SECONDS", 0.01)
    groups = range(10_000_000, 10_000_000 + WATCHED)  # no such process groups
    watchers = [asyncio.create_task(memlimit.enforce(g, limit_mb=100)) for g in groups]
    await asyncio.wait_for(two.wait(), timeout=30)
    for watcher in watchers:
        watcher.cancel()
    await asyncio.gather(*watchers, return_exceptions=True)
    assert scans[0] == set(groups)
    assert len(scans) < WATCHED  # per task, the first period alone would be WATCHED scans


async def test_the_group_past_its_limit_is_told_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    killed: list[int] = []
    monkeypatch.setattr(memlimit, "kill_group", killed.append)
    monkeypatch.setattr(
        memlimit,
        "groups_rss",
        lambda pgids: {p: (300 if p == 2 else 10) * memlimit.MB for p in pgids},
    )
    small = asyncio.create_task(memlimit.enforce(1, limit_mb=100))
    reason = await asyncio.wait_for(memlimit.enforce(2, limit_mb=100), timeout=30)
    assert "memory limit of 100 MB exceeded (resident 300 MB)" in reason
    assert killed == [2] and not small.done()
    small.cancel()
    await asyncio.gather(small, return_exceptions=True)


def test_groups_rss_reads_every_group_in_one_pass() -> None:
    own = os.getpgid(0)
    found = memlimit.groups_rss({own, 10_000_001})
    assert found[own] > memlimit.MB and found[10_000_001] == 0
