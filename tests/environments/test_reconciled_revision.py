"""`status.reconciledRevision`: the environment controller records the task controller's
reconciled record once per record (real etcd, task side simulated as in test_controller.py)."""

from __future__ import annotations

from pathlib import Path

from controller.runtime.reconciled import reconciled_key
from tests.environments.test_controller import Harness, harness, run_sample
from tests.waiting import eventually

__all__ = ["harness"]  # the fixture, shared with test_controller.py


async def test_each_reconciled_record_is_stamped_once_on_every_environment(
    harness: Harness, tmp_path: Path
) -> None:
    env = await run_sample(harness, tmp_path / "runs.txt")
    ctl = harness.controllers[0]
    await ctl.reconciler.on_start()  # the term hook: follow the record
    try:
        assert env.status.reconciled_revision == 0  # no record yet: nothing confirmed
        key = reconciled_key(harness.store.prefix)
        first = await harness.store.put_raw(key, b"manager-1")

        def stamped(revision: int) -> bool:
            return harness.env("physics-1").status.reconciled_revision == revision

        await eventually(lambda: stamped(first), within=10.0)
        written = harness.env("physics-1").metadata.resource_version
        await ctl.reconciler.reconcile("physics-1")  # steady: no write for the same record
        assert harness.env("physics-1").metadata.resource_version == written
        again = await harness.store.put_raw(key, b"manager-2")  # a new subscription
        await eventually(lambda: stamped(again), within=10.0)
        assert harness.env("physics-1").status.state == "RUNNING"
    finally:
        await ctl.reconciler.on_stop(graceful=True)
