"""The run history: `/api/runs` over the run log in etcd, and the Runs page in headless Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from crds.runlog import RunRecord, TransitionTime, encode, record_key
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
    tasks = "#plot-tasks svg g.series"
    await browser.wait_for(f"document.querySelectorAll('{tasks}').length === 2")
    (tmp_path / "runs.png").write_bytes(await browser.screenshot())
