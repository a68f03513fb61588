"""hack.bench.compare: rows named by their records, medians per side, changes marked by
direction, and both checkouts' own benchmark run alternately."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from hack.bench.compare import direction, flatten, main, table

FAKE = """
import json, os, sys
from pathlib import Path
here = Path(__file__).resolve().parent
with open(os.environ["ORDER_LOG"], "a") as log:
    log.write(os.environ["PYTHONPATH"] + "\\n")
results = here / "results"
results.mkdir(exist_ok=True)
(results / "fake_bench.json").write_text(json.dumps(
    {"phases": [{"name": "START", "seen_seconds": SECONDS, "per_s": RATE}],
     "load_average": [9.0], "tasks": 10}))
"""


def test_records_in_a_list_are_named_by_their_fields_settings_dropped() -> None:
    result = {
        "rows": [
            {"op": "create", "mode": "sequential", "ratio": 0.9, "ok": True},
            {"op": "get", "mode": "16 in flight", "ratio": 0.8},
        ],
        "phases": [[1, 2]],
        "load_average": [3.0, 2.0, 1.0],
        "targets": {"added_p99_ms_max": 5.0},
        "floor": {"b_writes_per_s": 40000},
    }
    assert flatten(result) == {
        "rows.create/sequential.ratio": 0.9,
        "rows.get/16 in flight.ratio": 0.8,
        "phases.0.0": 1.0,
        "phases.0.1": 2.0,
        "floor.b_writes_per_s": 40000.0,
    }


def test_direction_from_the_row_name() -> None:
    assert direction("phases.START.server_cpu_seconds") == -1
    assert direction("write_to_reconcile_p99_ms") == -1
    assert direction("rows.create/sequential.ratio") == 1
    assert direction("initial_reconciles_per_s") == 1
    assert direction("rows.get/sequential.store") == 1
    assert direction("rows.get/sequential.store_cpu_us") == -1
    assert direction("kill.killed_acked_s") == -1
    assert direction("initial_sync_reconciles_per_s") == 1
    assert direction("objects") == 0
    assert direction("floor.watch_p99_ms") == 0
    assert direction("rows.get/sequential.raw_cpu_us") == 0


def test_medians_ratio_and_marks() -> None:
    runs = {
        "before": [{"a_seconds": 1.0, "b_per_s": 100.0}, {"a_seconds": 3.0, "b_per_s": 100.0}],
        "after": [{"a_seconds": 4.0, "b_per_s": 50.0}, {"a_seconds": 4.0, "b_per_s": 50.0}],
    }
    lines = table(runs, bench="x", worse=0.15)
    assert lines == [
        "| x: a_seconds | 2 | 4 | 2.00 | worse |",
        "| x: b_per_s | 100 | 50 | 0.50 | worse |",
    ]
    better = table({"before": runs["after"], "after": runs["before"]}, bench="x", worse=0.15)
    assert [line.rsplit("|", 2)[1].strip() for line in better] == ["better", "better"]


def _checkout(root: Path, seconds: float, rate: float) -> Path:
    bench = root / "hack" / "bench"
    bench.mkdir(parents=True)
    for package in (root / "hack", bench):
        (package / "__init__.py").write_text("")
    code = FAKE.replace("SECONDS", str(seconds)).replace("RATE", str(rate))
    (bench / "fake_bench.py").write_text(code)
    return root


def test_both_checkouts_run_alternately_into_one_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    old = _checkout(tmp_path / "old", seconds=2.0, rate=100.0)
    new = _checkout(tmp_path / "new", seconds=2.1, rate=20.0)
    order = tmp_path / "order.log"
    monkeypatch.setenv("ORDER_LOG", str(order))
    out = tmp_path / "out"
    argv = ["fake_bench", "--before", str(old), "--after", str(new), "--runs", "2"]
    assert main([*argv, "--python", sys.executable, "--out", str(out)]) == 0
    assert order.read_text().split() == [str(old), str(new), str(new), str(old)]
    printed = capsys.readouterr().out
    assert "| fake_bench: phases.START.seen_seconds | 2 | 2.1 | 1.05 |  |" in printed
    assert "| fake_bench: phases.START.per_s | 100 | 20 | 0.20 | worse |" in printed
    assert "load_average" not in printed and "tasks" not in printed
    assert len(list(out.glob("*-fake_bench-*.json"))) == 4
    kept = json.loads((out / "after-fake_bench-1.json").read_text())
    assert kept["phases"][0]["per_s"] == 20.0
