"""The memory limit of a task (TaskInfo `limits.mem`), enforced by the executor. Linux only.

Mesos enforces `limits` with the cgroups isolators of its agents; the local cluster has no
cgroups, so the o2 executor enforces the memory limit itself, wherever it runs: it samples the
resident memory (RSS) of the task's whole process group every `SAMPLE_SECONDS` and, once the sum
is past the limit, SIGKILLs the group. The task then fails with Mesos's reason
REASON_CONTAINER_LIMITATION_MEMORY and a message naming the limit and the usage. RSS, not
RLIMIT_AS: address space is not memory (gRPC and Python reserve far more than they use), and
cgroups count resident pages too. Sampling is the only way without cgroups (no event fires when
a process grows), so a burst shorter than one period can go unseen, and the kill comes up to
one period late. The `cpus` limit is carried to Mesos but not enforced here: without cgroups
there is no CPU quota to set.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from procutil import kill_group

SAMPLE_SECONDS = 0.5
REASON = "REASON_CONTAINER_LIMITATION_MEMORY"
MB = 1024 * 1024
_PAGE = os.sysconf("SC_PAGE_SIZE")


def group_rss(pgid: int) -> int:
    """Resident bytes of every process in process group `pgid` (0 when none is left)."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # gone meanwhile
        fields = stat[stat.rfind(")") + 2 :].split()
        # fields[0] is field 3 (state) of proc(5): pgrp is field 5, rss (pages) field 24.
        if len(fields) > 21 and int(fields[2]) == pgid:
            total += int(fields[21]) * _PAGE
    return total


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
    (cancel it when the process ends)."""
    while True:
        rss = await asyncio.to_thread(group_rss, pgid)
        reason = verdict(rss, limit_mb=limit_mb)
        if reason:
            kill_group(pgid)
            return reason
        await asyncio.sleep(SAMPLE_SECONDS)
