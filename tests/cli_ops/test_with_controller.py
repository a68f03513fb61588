"""The state commands against the real environment controller (task side simulated by
tests.environments.fake_tasks): what `o2 start/stop/recover` wait for is what it reports."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.conftest import O2
from tests.cli_ops.conftest import run_o2
from tests.environments.test_controller import Harness, apply_samples, harness

__all__ = ["harness"]


async def test_stop_and_start_follow_the_real_controller_to_the_next_run(
    o2: O2, harness: Harness, tmp_path: Path
) -> None:
    harness.start_controller()
    await apply_samples(harness, tmp_path / "runs.txt")
    await harness.wait_state("physics-1", "RUNNING")
    stopped = await run_o2(o2, "stop", "physics-1", "--yes", "--timeout", "30s")
    assert stopped.exit_code == 0, stopped.stderr
    assert stopped.stdout == "environment/physics-1 CONFIGURED\n"
    assert "STOP_ACTIVITY RUNNING -> CONFIGURED: Succeeded in" in stopped.stderr
    started = await run_o2(o2, "start", "physics-1", "--timeout", "30s", "-o", "json")
    assert started.exit_code == 0, started.stderr
    env = json.loads(started.stdout)
    assert env["status"]["state"] == "RUNNING"
    assert env["status"]["runNumber"] == 2
    assert "tasks RUNNING 3/3" in started.stderr
    assert "START_ACTIVITY CONFIGURED -> RUNNING: Succeeded in" in started.stderr
    assert "(run 2)" in started.stderr


async def test_error_then_recover_with_the_real_controller(
    o2: O2, harness: Harness, tmp_path: Path
) -> None:
    harness.start_controller()
    await apply_samples(harness, tmp_path / "runs.txt")
    await harness.wait_state("physics-1", "RUNNING")
    await harness.fake.fail("physics-1-flp-tpc-readout", message="killed by signal 9")
    await harness.wait_state("physics-1", "ERROR")
    refused = await run_o2(o2, "start", "physics-1", "--timeout", "10s", within=30)
    assert refused.exit_code == 1
    assert "physics-1-flp-tpc-readout" in refused.stderr
    harness.fake.broken.clear()
    recovered = await run_o2(o2, "recover", "physics-1", "--timeout", "30s")
    assert recovered.exit_code == 0, recovered.stderr
    assert recovered.stdout.startswith("environment/physics-1 RUNNING")
