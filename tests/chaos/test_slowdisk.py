"""The soak's slow-disk fault on a real process: its writes throttled by a blkio cgroup while
slowed, nothing left behind once restored. Runs where the soak can inject it (root, cgroup v1
blkio, a block device under the data dir); elsewhere the soak leaves the kind out, printing
why, and these tests are skipped with the same reason."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from hack.chaos.slowdisk import BLKIO, WRITE_IOPS, SlowDisk, disk_of


def test_a_slowed_process_is_throttled_then_restored_and_the_group_removed(
    tmp_path: Path,
) -> None:
    disk = SlowDisk(tmp_path, name=f"o2-test-slowdisk-{tmp_path.name}")
    why = disk.unavailable()
    if why is not None:  # the soak leaves the kind out too, printing `why`
        pytest.skip(f"this machine cannot slow a disk: {why}")
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        disk.slow(proc.pid)
        assert str(proc.pid) in (disk.group / "cgroup.procs").read_text().split()
        limit = (disk.group / "blkio.throttle.write_iops_device").read_text().split()
        assert limit == [str(disk_of(tmp_path)), str(WRITE_IOPS)]
        disk.restore(proc.pid)
        assert str(proc.pid) in (BLKIO / "cgroup.procs").read_text().split()
        disk.close()
        assert not disk.group.exists()
    finally:
        proc.kill()
        proc.wait()
        disk.close()


def test_restoring_a_process_that_is_gone_is_not_an_error(tmp_path: Path) -> None:
    disk = SlowDisk(tmp_path, name=f"o2-test-slowdisk-gone-{tmp_path.name}")
    why = disk.unavailable()
    if why is not None:
        pytest.skip(f"this machine cannot slow a disk: {why}")
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    disk.slow(proc.pid)
    proc.wait()
    disk.restore(proc.pid)
    disk.close()
    assert not disk.group.exists()
