"""`o2 get runs`: the run log written with etcdctl, read by `o2`, filtered and printed."""

from __future__ import annotations

import json

from crds.runlog import RunRecord, TransitionTime, encode, record_key
from tests.cli.conftest import O2, lines


def put_run(o2: O2, number: int, env: str, detectors: tuple[str, ...]) -> None:
    record = RunRecord(
        environment=env,
        environment_uid=f"uid-{env}",
        run_number=number,
        run_type="PHYSICS",
        detectors=detectors,
        started_at_ms=1_700_000_000_000,
        stopped_at_ms=1_700_000_042_000,
        duration_seconds=42.0,
        transitions=(TransitionTime(event="START_ACTIVITY", duration_seconds=1.5),),
    )
    o2.etcdctl(
        "put", record_key(o2.prefix, number, record.environment_uid), encode(record).decode()
    )


def test_get_runs_lists_the_log_newest_first_with_filters(o2: O2) -> None:
    put_run(o2, 7, "tpc-1", ("TPC",))
    put_run(o2, 8, "its-1", ("ITS", "TPC"))
    put_run(o2, 9, "its-1", ("ITS",))
    rows = lines(o2("get", "runs").stdout)
    assert rows[0].split()[:3] == ["RUN", "ENVIRONMENT", "RUN-TYPE"]
    assert [r.split()[0] for r in rows[1:]] == ["9", "8", "7"]
    assert "42.0s" in rows[1]
    assert o2("get", "runs", "--env", "its-1", "-o", "name").stdout == "run/9\nrun/8\n"
    listing = json.loads(o2("get", "runs", "--detector", "tpc", "-o", "json").stdout)
    assert listing["kind"] == "RunList"
    assert [r["runNumber"] for r in listing["items"]] == [8, 7]
    assert "START_ACTIVITY=1.5s" in o2("get", "runs", "-o", "wide").stdout


def test_run_filters_belong_to_runs_only(o2: O2) -> None:
    result = o2("get", "env", "--env", "x")
    assert result.exit_code == 1
    assert "--env and --detector filter `o2 get runs` only" in result.stderr
    assert o2("get", "runs").stderr.strip() == "No runs found."
