"""The run history: `/api/runs` over the run log in etcd, and the Runs page in headless Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from crds.runlog import RunRecord, TransitionTime, encode, record_key
from gui.runs import scaling_points
from store.embedded import EmbeddedEtcd
from store.etcd import EtcdStore
from tests.gui.cdp import Browser, find_chromium
from tests.gui.conftest import Gui
from tests.gui.procs import GuiProcess, gui_process
from tests.gui.samples import environment

no_chromium = pytest.mark.skipif(
    find_chromium() is None,
    reason="chromium is not installed: run hack/install-browser.sh (apt chromium)",
)


def run(number: int, env: str, detectors: tuple[str, ...], **fields: object) -> RunRecord:
    steps = (
        TransitionTime(event="START_ACTIVITY", duration_seconds=1.0 + number / 10),
        TransitionTime(event="STOP_ACTIVITY", duration_seconds=0.5),
    )
    return RunRecord(
        environment=env,
        environment_uid=f"uid-{env}",
        run_number=number,
        run_type="PHYSICS",
        detectors=detectors,
        started_at_ms=1_700_000_000_000 + number * 60_000,
        stopped_at_ms=1_700_000_030_000 + number * 60_000,
        duration_seconds=30.0,
        transitions=steps,
        **fields,  # type: ignore[arg-type]
    )


async def write_log(store: EtcdStore) -> None:
    records = [
        run(1, "tpc-1", ("TPC",)),
        run(2, "its-1", ("ITS",)),
        run(3, "tpc-1", ("TPC", "MCH"), ended_in_error=True, error="flp-tpc-0 died"),
    ]
    for record in records:
        key = record_key(store.prefix, record.run_number, record.environment_uid)
        await store.put_raw(key, encode(record))
    await store.put_raw(record_key(store.prefix, 4, "garbage"), b"{not json")


async def numbers(gui: Gui, query: str) -> list[int]:
    response = await gui.get(f"/api/runs{query}")
    assert response.status == 200
    return [r["runNumber"] for r in (await response.json())["runs"]]


async def test_api_lists_runs_newest_first_per_environment_and_detector(
    gui: Gui, etcd_store: EtcdStore
) -> None:
    await write_log(etcd_store)
    assert await numbers(gui, "") == [3, 2, 1]  # the unreadable record is skipped
    assert await numbers(gui, "?env=tpc-1") == [3, 1]
    assert await numbers(gui, "?detector=mch") == [3]
    assert await numbers(gui, "?limit=1") == [3]
    body = await (await gui.get("/api/runs?env=tpc-1&limit=1")).json()
    (newest,) = body["runs"]
    assert (newest["endedInError"], newest["error"]) == (True, "flp-tpc-0 died")
    assert [t["event"] for t in newest["transitions"]] == ["START_ACTIVITY", "STOP_ACTIVITY"]
    assert (await gui.get("/api/runs?limit=0")).status == 400
    assert (await gui.post("/api/runs")).status == 405  # read-only


def scaled(number: int, uid: str, tasks: int | None, *steps: TransitionTime) -> RunRecord:
    return RunRecord(
        environment=uid.removeprefix("uid-"),
        environment_uid=uid,
        run_number=number,
        transitions=steps,
        task_count=tasks,
    )


def took(event: str, seconds: float, result: str = "Succeeded") -> TransitionTime:
    return TransitionTime(event=event, duration_seconds=seconds, result=result)


def test_scaling_points_one_per_run_start_and_one_per_incarnation_deploy_and_configure() -> None:
    first = took("DEPLOY", 8.0), took("CONFIGURE", 3.0), took("START_ACTIVITY", 1.0)
    records = [
        scaled(3, "uid-a", 40, took("START_ACTIVITY", 1.5)).model_copy(
            update={"deploy_seconds": 8.0, "configure_seconds": 3.0}
        ),
        scaled(1, "uid-a", 40, *first),
        scaled(2, "uid-b", 4, took("DEPLOY", 2.0), took("CONFIGURE", 9.9, "Failed")),
        scaled(4, "uid-old", None, *first),  # written before task counts were kept
    ]
    points = [
        (p["series"], p["tasks"], p["seconds"], p["runNumber"]) for p in scaling_points(records)
    ]
    assert points == [
        ("DEPLOY", 40, 8.0, 1),
        ("CONFIGURE", 40, 3.0, 1),
        ("START_ACTIVITY", 40, 1.0, 1),
        ("DEPLOY", 4, 2.0, 2),  # the failed CONFIGURE is no point
        ("START_ACTIVITY", 40, 1.5, 3),  # run 3's DEPLOY and CONFIGURE are run 1's: drawn once
    ]
    assert scaling_points([]) == []


async def test_api_gives_the_scaling_points_of_the_runs_it_lists(
    gui: Gui, etcd_store: EtcdStore
) -> None:
    await write_log(etcd_store)
    record = run(5, "big-1", ("TPC",), task_count=120, deploy_seconds=12.5, configure_seconds=6.0)
    await etcd_store.put_raw(record_key(etcd_store.prefix, 5, "uid-big-1"), encode(record))
    body = await (await gui.get("/api/runs")).json()
    assert [r["runNumber"] for r in body["runs"]] == [5, 3, 2, 1]
    assert body["runs"][0]["taskCount"] == 120
    assert body["scaling"] == [
        {"series": s, "tasks": 120, "seconds": v, "environment": "big-1", "runNumber": 5}
        for s, v in (("DEPLOY", 12.5), ("CONFIGURE", 6.0), ("START_ACTIVITY", 1.5))
    ]  # runs 1-3 hold no task count (as records written by an older o2): no points
    assert (await (await gui.get("/api/runs?env=tpc-1")).json())["scaling"] == []


@pytest.fixture
def served(etcd_server: EmbeddedEtcd, etcd_store: EtcdStore) -> Iterator[GuiProcess]:
    with gui_process(etcd=etcd_server.endpoint, prefix=etcd_store.prefix) as proc:
        yield proc


@no_chromium
@pytest.mark.e2e
async def test_runs_page_renders_the_table_and_svg_plots(
    served: GuiProcess, browser: Browser, etcd_store: EtcdStore, tmp_path: Path
) -> None:
    await write_log(etcd_store)
    env = await etcd_store.create(environment("tpc-1", state="RUNNING"))
    counts = {"RUNNING": 3, "CONFIGURED": 1}
    status = env.status.model_copy(update={"state": "RUNNING", "task_counts": counts})
    await etcd_store.update_status(env.model_copy(update={"status": status}))
    await browser.goto(served.url + "#/runs?env=tpc-1")
    await browser.wait_for("document.querySelectorAll('#runs tr[data-run]').length === 2")
    shown = await browser.evaluate(
        "[...document.querySelectorAll('#runs tr[data-run]')].map((r) => r.dataset.run)"
    )
    assert shown == ["3", "1"]
    lines = await browser.evaluate(
        "[...document.querySelectorAll('#plot-transitions svg g.series')]"
        ".map((g) => g.dataset.series)"
    )
    assert lines == ["START_ACTIVITY", "STOP_ACTIVITY"]
    assert await browser.evaluate("!!document.querySelector('#plot-durations svg polyline')")
    empty = "document.querySelector('#plot-scaling').textContent"
    assert "No runs with a recorded task count yet" in await browser.evaluate(empty)
    tasks = "#plot-tasks svg g.series"
    await browser.wait_for(f"document.querySelectorAll('{tasks}').length === 2")
    (tmp_path / "runs.png").write_bytes(await browser.screenshot())
