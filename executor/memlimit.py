"""The memory limit of a task (TaskInfo `limits.mem`), enforced by the executor. Linux only.

Mesos enforces `limits` with the cgroups isolators of its agents; the local cluster has no
cgroups, so the o2 executor enforces the memory limit itself, wherever it runs: it samples the
resident memory (RSS) of the task's whole process group every `SAMPLE_SECONDS` and, once the sum
is past the limit, SIGKILLs the group. The task then fails with Mesos's reason
REASON_CONTAINER_LIMITATION_MEMORY and a message naming the limit and the usage. RSS, not
RLIMIT_AS: address space is not memory (gRPC and Python reserve far more than they use), and
cgroups count resident pages too. Sampling is the only way without cgroups (no event fires when
a process grows), so a burst shorter than one period can go unseen, and the kill comes up to
one period late. One scan of /proc per period serves every limited task of the executor (a
scan reads every process's stat: one scan per task would cost the executor N scans of N
processes each period). The `cpus` limit is carried to Mesos but not enforced here: without cgroups
there is no CPU quota to set.
"""

from __future__ import annotations

import asyncio
import os
import weakref
from collections.abc import Collection
from pathlib import Path

from procutil import kill_group

SAMPLE_SECONDS = 0.5
REASON = "REASON_CONTAINER_LIMITATION_MEMORY"
MB = 1024 * 1024
_PAGE = os.sysconf("SC_PAGE_SIZE")


def group_rss(pgid: int) -> int:
    """Resident bytes of every process in process group `pgid` (0 when none is left)."""
    return groups_rss({pgid})[pgid]


def groups_rss(pgids: Collection[int]) -> dict[int, int]:
    """Resident bytes of each process group of `pgids` (0 for one with no process left), from
    one pass over /proc."""
    totals = dict.fromkeys(pgids, 0)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # gone meanwhile
        fields = stat[stat.rfind(")") + 2 :].split()
        # fields[0] is field 3 (state) of proc(5): pgrp is field 5, rss (pages) field 24.
        if len(fields) > 21 and (pgid := int(fields[2])) in totals:
            totals[pgid] += int(fields[21]) * _PAGE
    return totals


def verdict(rss: int, *, limit_mb: float) -> str:
    """Why the task must die ('' while within its limit)."""
    if rss <= limit_mb * MB:
        return ""
    return (
        f"memory limit of {limit_mb:g} MB exceeded (resident {rss / MB:.0f} MB): "
        "killed by the executor"
    )


async def enforce(pgid: int, *, limit_mb: float) -> str:
    """Sample until the group is past `limit_mb`, SIGKILL it and return why. Runs until then
    (cancel it when the process ends). The samples are the loop's shared sampler's."""
    sampler = _SAMPLERS.get(asyncio.get_running_loop())
    if sampler is None:
        sampler = _SAMPLERS[asyncio.get_running_loop()] = Sampler()
    return await sampler.watch(pgid, limit_mb=limit_mb)


class Sampler:
    """Samples every watched group's RSS in one /proc scan per SAMPLE_SECONDS; runs while
    something is watched."""

    def __init__(self) -> None:
        self._watched: dict[asyncio.Future[str], tuple[int, float]] = {}
        self._task: asyncio.Task[None] | None = None

    async def watch(self, pgid: int, *, limit_mb: float) -> str:
        """Why group `pgid` was killed, once it went past `limit_mb` (SIGKILLed by then)."""
        found: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._watched[found] = (pgid, limit_mb)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())
        try:
            return await found
        finally:
            self._watched.pop(found, None)

    async def _run(self) -> None:
        while self._watched:
            pgids = {pgid for pgid, _ in self._watched.values()}
            rss = await asyncio.to_thread(groups_rss, pgids)
            for found, (pgid, limit_mb) in list(self._watched.items()):
                reason = verdict(rss.get(pgid, 0), limit_mb=limit_mb)
                if reason and not found.done():
                    kill_group(pgid)
                    found.set_result(reason)
            await asyncio.sleep(SAMPLE_SECONDS)


_SAMPLERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Sampler] = (
    weakref.WeakKeyDictionary()
)
"""One sampler per event loop (the executor has one; tests run several loops)."""
