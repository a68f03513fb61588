"""A slow disk under one etcd member: its process moved for a while into a cgroup (v1 blkio)
whose writes to the data dir's disk are throttled to a few IOPS, then moved back.

etcd writes its WAL with fdatasync on every commit (the soak's members run with fsync on), so
a throttled member takes ~1/IOPS seconds per commit: a slow follower is outvoted by the other
two, a slow leader slows every write and may lose its leadership. Needs root and a writable
cgroup v1 blkio hierarchy, and a data dir on a block device (not tmpfs); `unavailable()` says
why not, and the soak then leaves this fault kind out (and says so) rather than fake it."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

BLKIO = Path("/sys/fs/cgroup/blkio")
WRITE_IOPS = 10
"""Throttled writes per second: a local disk does thousands; 10 makes each fsync ~0.1 s."""


def disk_of(path: Path) -> str | None:
    """`major:minor` of the whole disk holding `path` (throttling takes a disk, not a partition);
    None for a filesystem on no block device (tmpfs, overlay)."""
    st = os.stat(path)
    sysfs = Path(f"/sys/dev/block/{os.major(st.st_dev)}:{os.minor(st.st_dev)}")
    if not sysfs.exists():
        return None
    if (sysfs / "partition").exists():
        sysfs = sysfs.resolve().parent
    return (sysfs / "dev").read_text().strip()


@dataclass
class SlowDisk:
    """One throttled cgroup for the soak; `close()` removes it."""

    data_dir: Path
    name: str = f"o2-chaos-slowdisk-{os.getpid()}"

    @property
    def group(self) -> Path:
        return BLKIO / self.name

    def unavailable(self) -> str | None:
        """Why this machine cannot slow a disk, or None when it can."""
        if os.geteuid() != 0:
            return "needs root (cgroup blkio throttling)"
        if not (BLKIO / "cgroup.procs").exists():
            return f"no cgroup v1 blkio hierarchy at {BLKIO}"
        if disk_of(self.data_dir) is None:
            return f"{self.data_dir} is on no block device"
        return None

    def slow(self, pid: int) -> None:
        """Throttle `pid`'s writes to the data dir's disk (creating the group on first use)."""
        disk = disk_of(self.data_dir)
        self.group.mkdir(exist_ok=True)
        (self.group / "blkio.throttle.write_iops_device").write_text(f"{disk} {WRITE_IOPS}\n")
        (self.group / "cgroup.procs").write_text(f"{pid}\n")

    def restore(self, pid: int) -> None:
        """Back to the root group (unthrottled); a pid already gone needs nothing."""
        with contextlib.suppress(ProcessLookupError):
            (BLKIO / "cgroup.procs").write_text(f"{pid}\n")

    def close(self) -> None:
        """Every process still in the group back to the root group, then the group removed."""
        if not self.group.exists():
            return
        for line in (self.group / "cgroup.procs").read_text().split():
            self.restore(int(line))
        self.group.rmdir()
