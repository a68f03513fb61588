"""A 60-second chaos soak (`python -m hack.chaos`, fixed seed): every fault kind is injected at
least once into the real stack (three-member etcd, two managers, the local cluster with a real
and hollow agents) while the workload edits a ComponentConfig and commits to a GitSource's
repository and pilots run on async nodes that an operator switches and an environment reclaims,
and neither the independent observer, the process-table watch nor the jobs accounting sees an
invariant violated."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from hack.chaos.faults import KINDS

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]


def _dirs(tmp_path: Path) -> tuple[str, ...]:
    """Results and the soak's data and logs under tmp_path, which pytest prunes (a temp dir of
    the soak's own stayed behind: ~300 MB per run)."""
    return ("--results", str(tmp_path), "--work", str(tmp_path / "work"))


def soak(tmp_path: Path, *args: str) -> tuple[int, str]:
    """Run the soak; past the bound it gets SIGTERM, so it still stops its processes by pid."""
    out = tmp_path / "soak.out"
    with out.open("wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "hack.chaos", *args, *_dirs(tmp_path)],
            cwd=REPO,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        try:
            code = proc.wait(timeout=300)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(timeout=60)
    return code, out.read_text(errors="replace")[-4000:]


def test_short_soak_injects_every_fault_kind_and_violates_nothing(tmp_path: Path) -> None:
    code, output = soak(
        tmp_path,
        *("--duration", "60s", "--seed", "18", "--pause", "0.7", "--down", "1.5"),
        *("--converge-within", "30", "--hollow-agents", "6", "--real-agents", "1"),
    )
    results = tmp_path / "18.json"
    assert results.exists(), f"the soak wrote no results (exit {code}):\n{output}"
    result = json.loads(results.read_text())
    assert result["violations"] == [], output
    assert code == 0, output
    # every kind this machine can inject (a slow disk needs root and cgroup blkio)
    assert set(result["faults_by_kind"]) == set(KINDS) - set(result["left_out"]), output
    assert result["convergence_seconds"] is not None, output
    assert result["leftover_tasks"] == 0, output
    workload, processes = result["workload"], result["processes"]
    assert workload["configEdits"] > 0 and workload["gitCommits"] > 1, output
    assert None not in workload["caughtUpAfter"].values(), output
    assert processes["taskSamples"] > 0 and processes["leaderLives"], output
    pilots = result["pilots"]
    assert pilots["pilotsStarted"] >= 2 and pilots["modeSwitches"] > 0, output
    assert pilots["drains"].get("ModeSync") and pilots["reclaims"] > 0, output
    assert pilots["jobs"]["done"] > 0 and pilots["pilotsUpAfter"] is not None, output
    assert (tmp_path / "work" / "chaos-m0.log").exists(), output  # its data under --work
