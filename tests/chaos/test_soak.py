"""A short chaos soak (`python -m hack.chaos`, fixed seed): every fault kind is injected at
least once into the real stack (three-member etcd, two managers, the local cluster with a real
and hollow agents) and the independent observer sees no invariant violated."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from hack.chaos.faults import KINDS

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]


def test_short_soak_injects_every_fault_kind_and_violates_nothing(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "hack.chaos", "--duration", "26s", "--seed", "18"]
    command += ["--hollow-agents", "6", "--real-agents", "1", "--pause", "0.8"]
    command += ["--converge-within", "60", "--results", str(tmp_path)]
    done = subprocess.run(
        command, check=False, cwd=REPO, capture_output=True, text=True, timeout=240
    )
    result = json.loads((tmp_path / "18.json").read_text())
    summary = done.stdout[-3000:]
    assert result["violations"] == [], summary
    assert done.returncode == 0, summary + done.stderr[-2000:]
    assert set(result["faults_by_kind"]) == set(KINDS), summary
    assert result["convergence_seconds"] is not None, summary
    assert result["leftover_tasks"] == 0, summary
