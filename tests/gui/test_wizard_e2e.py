"""The new-environment wizard in headless Chromium: the real GUI process on a real etcd."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from crds.kinds.environment import Environment
from crds.kinds.event import Event
from crds.presets import preset_key, presets_prefix
from gui.presets import save_preset
from store.embedded import EmbeddedEtcd
from store.etcd import EtcdStore
from tests.gui.cdp import Browser, find_chromium
from tests.gui.conftest import gui_with_a_viewer
from tests.gui.procs import GuiProcess
from tests.gui.samples import detector_node, environment, workflow

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        find_chromium() is None,
        reason="chromium is not installed: run hack/install-browser.sh (apt chromium)",
    ),
]

TRG = "#wz-var-trg_mode"


@pytest.fixture
def served(
    etcd_server: EmbeddedEtcd, etcd_store: EtcdStore, tmp_path: Path
) -> Iterator[GuiProcess]:
    """The GUI process with alice and bob (tokens) and vera, a viewer."""
    yield from gui_with_a_viewer(etcd_server, etcd_store, tmp_path)


@pytest.fixture
async def inventory(etcd_store: EtcdStore) -> None:
    await etcd_store.create(workflow())
    private = workflow(public=False)
    meta = private.metadata.model_copy(update={"name": "a-private"})
    await etcd_store.create(private.model_copy(update={"metadata": meta}))
    for name, detector in (("flp1", "TPC"), ("flp2", "ITS"), ("flp3", "MCH")):
        await etcd_store.create(detector_node(name, detector))
    held = await etcd_store.create(environment("mch-1"))
    status = held.status.model_copy(update={"state": "RUNNING", "detectors": ("MCH",)})
    await etcd_store.update_status(held.model_copy(update={"status": status}))


async def click(browser: Browser, selector: str) -> None:
    await browser.evaluate(
        f"document.querySelector({json.dumps(selector)}).scrollIntoView({{block: 'center'}})"
    )
    await browser.click(selector)


ROUND_TRIP = 30.0


async def set_value(browser: Browser, selector: str, value: str) -> None:
    await browser.evaluate(
        f"(() => {{ const el = document.querySelector({json.dumps(selector)}); "
        f"el.value = {json.dumps(value)}; "
        "el.dispatchEvent(new Event('input', {bubbles: true})); "
        "el.dispatchEvent(new Event('change', {bubbles: true})); })()"
    )


async def open_wizard(browser: Browser, served: GuiProcess, token: str) -> None:
    await browser.goto(served.url + "#/new")
    await browser.wait_for("document.querySelector('#wz-var-n_flp')")
    await browser.type_into("#token", token)


@pytest.mark.usefixtures("inventory")
async def test_wizard_creates_a_running_environment_with_widget_values(
    served: GuiProcess, browser: Browser, etcd_store: EtcdStore
) -> None:
    await open_wizard(browser, served, "alice-token-123")
    options = await browser.evaluate(
        "[...document.querySelectorAll('#wz-workflow option')].map(o => o.value)"
    )
    assert options == ["readout-dataflow", "a-private"]
    assert "chosen detectors" in (await browser.text(".wz-description") or "")
    assert "controlworkflows" in (await browser.text(".wz-source") or "")
    assert "held by mch-1" in (await browser.text("[data-detector='MCH']") or "")
    assert await browser.evaluate("document.querySelector('[data-wz-detector=MCH]').disabled")
    kinds = await browser.evaluate(
        "['n_flp','comment','roc_ctp_emu_enabled'].map(k => "
        "document.querySelector('#wz-var-' + k).type)"
    )
    assert kinds == ["number", "text", "checkbox"]
    legends = await browser.evaluate(
        "[...document.querySelectorAll('.wz-panel legend')].map(l => l.textContent)"
    )
    assert legends == ["Detectors", "General", "Trigger"]
    fields = await browser.evaluate(
        "[...document.querySelectorAll('[data-panel=General] [data-field]')]"
        ".map(f => f.dataset.field)"
    )
    assert fields == ["comment", "n_flp"], "ordered by index"

    assert await browser.evaluate(f"document.querySelector({TRG!r})") is None, "visibleif"
    await click(browser, "#wz-var-roc_ctp_emu_enabled")
    await browser.wait_for(f"document.querySelector({TRG!r})")
    assert await browser.evaluate(f"document.querySelector({TRG!r}).tagName") == "SELECT"
    await set_value(browser, TRG, "triggered")
    await browser.type_into("#wz-name", "physics-1")
    await set_value(browser, "#wz-var-n_flp", "")
    await click(browser, "#wz-create")
    # server round trips get a generous bound: the whole suite loads the machine meanwhile
    await browser.wait_for("document.querySelector('[data-error=n_flp]')", within=ROUND_TRIP)
    assert "expected number" in (await browser.text("[data-error=n_flp]") or "")
    assert [e.name for e in (await etcd_store.list(Environment)).items] == ["mch-1"]

    await set_value(browser, "#wz-var-n_flp", "2")
    for detector in ("TPC", "ITS"):
        await click(browser, f"[data-wz-detector={detector}]")
    await click(browser, "#wz-running")
    await click(browser, "#wz-create")
    await browser.wait_for("location.hash === '#/environments/physics-1'", within=ROUND_TRIP)
    env = await etcd_store.get(Environment, "physics-1")
    assert env.spec.state == "RUNNING"
    assert env.spec.vars == {
        "n_flp": "2",
        "roc_ctp_emu_enabled": "true",
        "trg_mode": "triggered",
        "detectors": '["TPC","ITS"]',
    }
    events = [e for e in (await etcd_store.list(Event)).items if e.name.startswith("physics-1")]
    assert [e.spec.message.split(" ")[0] for e in events] == ["alice"]


@pytest.mark.usefixtures("inventory")
async def test_viewer_is_refused_in_the_page_and_nothing_is_written(
    served: GuiProcess, browser: Browser, etcd_store: EtcdStore
) -> None:
    await open_wizard(browser, served, "vera-viewer-token")
    await browser.wait_for("document.querySelector('#whoami').textContent === 'vera · viewer'")
    await browser.type_into("#wz-name", "physics-2")
    await click(browser, "#wz-create")
    await browser.wait_for(
        "document.querySelector('#wz-result').textContent.includes('viewer')", within=ROUND_TRIP
    )
    assert [e.name for e in (await etcd_store.list(Environment)).items] == ["mch-1"]


@pytest.mark.usefixtures("inventory")
async def test_preset_saved_from_the_wizard_loads_back_and_deletes(
    served: GuiProcess, browser: Browser, etcd_store: EtcdStore
) -> None:
    await open_wizard(browser, served, "alice-token-123")
    await set_value(browser, "#wz-var-n_flp", "4")
    await click(browser, "[data-wz-detector=TPC]")
    await browser.type_into("#wz-preset-name", "TPC physics")
    await click(browser, "#wz-preset-save")
    await browser.wait_for("document.querySelector('#wz-preset')", within=ROUND_TRIP)
    raw = await etcd_store.get_raw(preset_key(etcd_store.prefix, "readout-dataflow", "TPC physics"))
    assert raw is not None and b'"n_flp":"4"' in raw.value

    await set_value(browser, "#wz-var-n_flp", "7")
    await click(browser, "[data-wz-detector=TPC]")
    await click(browser, "#wz-preset-load")
    await browser.wait_for("document.querySelector('#wz-var-n_flp').value === '4'")
    assert await browser.evaluate("document.querySelector('[data-wz-detector=TPC]').checked")

    await click(browser, "#wz-preset-delete")
    await browser.wait_for("!document.querySelector('#wz-preset')", within=ROUND_TRIP)
    assert await etcd_store.list_raw(presets_prefix(etcd_store.prefix, "readout-dataflow")) == {}


@pytest.mark.usefixtures("inventory")
async def test_a_deep_link_chooses_the_workflow_and_choosing_another_rewrites_it(
    served: GuiProcess, browser: Browser
) -> None:
    chosen = "document.querySelector('#wz-workflow').value"
    await browser.goto(served.url + "#/new?workflow=a-private")
    await browser.wait_for(f"document.querySelector('#wz-workflow') && {chosen} === 'a-private'")
    await set_value(browser, "#wz-workflow", "readout-dataflow")
    await browser.wait_for("location.hash === '#/new?workflow=readout-dataflow'")
    await browser.wait_for("document.querySelector('#wz-var-n_flp')")
    assert await browser.evaluate(chosen) == "readout-dataflow"


@pytest.mark.usefixtures("inventory")
async def test_a_shifter_gets_no_delete_or_save_for_a_preset_someone_else_saved(
    served: GuiProcess, browser: Browser, etcd_store: EtcdStore
) -> None:
    """Others' presets are the admins' to change: the page offers a shifter only Load."""
    body = {"vars": {}, "detectors": ["TPC"]}
    await save_preset(etcd_store, "readout-dataflow", "TPC physics", body, who="alice")
    await open_wizard(browser, served, "sam-shifter-token")
    await browser.wait_for(
        "document.querySelector('#whoami').textContent === 'sam · shifter' && "
        "document.querySelector('#wz-preset-load') && !document.querySelector('#wz-preset-delete')",
        within=ROUND_TRIP,
    )
    await browser.type_into("#wz-preset-name", "TPC physics")
    await browser.wait_for("document.querySelector('#wz-preset-save').disabled")
    await set_value(browser, "#wz-preset-name", "sam's own")
    await browser.wait_for("!document.querySelector('#wz-preset-save').disabled")
