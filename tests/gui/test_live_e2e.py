"""Live changes in headless Chromium: the real GUI process on a real etcd excludes a detector
from a RUNNING environment's page, showing the diff before the write and the result after."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from crds.kinds.environment import Environment
from store.embedded import EmbeddedEtcd
from store.etcd import EtcdStore
from tests.gui.cdp import Browser, find_chromium
from tests.gui.conftest import TOKENS
from tests.gui.control_world import build, events_of
from tests.gui.procs import GuiProcess, gui_process
from tests.gui.test_wizard_e2e import ROUND_TRIP, click

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        find_chromium() is None,
        reason="chromium is not installed: run hack/install-browser.sh (apt chromium)",
    ),
]


@pytest.fixture
def served(
    etcd_server: EmbeddedEtcd, etcd_store: EtcdStore, tmp_path: Path
) -> Iterator[GuiProcess]:
    tokens = tmp_path / "tokens"
    tokens.write_text(TOKENS)
    tokens.chmod(0o600)
    with gui_process(etcd=etcd_server.endpoint, prefix=etcd_store.prefix, token_file=tokens) as p:
        yield p


async def test_excluding_a_detector_shows_the_diff_then_writes_it(
    served: GuiProcess, browser: Browser, etcd_store: EtcdStore
) -> None:
    await build(etcd_store)
    await browser.goto(served.url + "#/environments/physics-1")
    await browser.type_into("#token", "alice-token-123")
    await browser.wait_for("document.querySelector('[data-live-exclude=ITS]')", within=ROUND_TRIP)
    assert "MCH held by mch-1" in (await browser.text("[data-live-held=MCH]") or "")
    assert "qc" in (await browser.text("#live") or "")

    await click(browser, "[data-live-exclude=ITS]")
    await browser.wait_for("document.querySelector('#live-diff')", within=ROUND_TRIP)
    diff = await browser.text("#live-diff") or ""
    assert '-  detectors: \'["TPC","ITS"]\'' in diff and "+  detectors: '[\"TPC\"]'" in diff
    env = await etcd_store.get(Environment, "physics-1")
    assert env.spec.vars["detectors"] == '["TPC","ITS"]', "nothing written before Confirm"

    await click(browser, "#live-confirm")
    await browser.wait_for(
        "document.querySelector('#live-result').textContent.includes('changed by alice')",
        within=ROUND_TRIP,
    )
    await browser.wait_for("document.querySelector('[data-live-include=ITS]')", within=ROUND_TRIP)
    env = await etcd_store.get(Environment, "physics-1")
    assert env.spec.vars["detectors"] == '["TPC"]'
    (event,) = await events_of(etcd_store, "physics-1")
    assert event.spec.message.startswith("alice asked to CHANGE")
