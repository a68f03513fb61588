"""The Nodes page in headless Chromium: cordon after a confirmation, by the real GUI process."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from crds.changedby import changed_by
from crds.kinds.event import Event
from crds.kinds.node import Node, NodeSpec, PilotBackOff
from store.embedded import EmbeddedEtcd
from store.etcd import EtcdStore
from tests.gui.cdp import Browser, find_chromium
from tests.gui.conftest import gui_with_a_viewer
from tests.gui.procs import GuiProcess
from tests.gui.samples import detector_node
from tests.waiting import eventually

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        find_chromium() is None,
        reason="chromium is not installed: run hack/install-browser.sh (apt chromium)",
    ),
]

CORDON = "[data-node-action=cordon][data-node=flp1]"


@pytest.fixture
def served(
    etcd_server: EmbeddedEtcd, etcd_store: EtcdStore, tmp_path: Path
) -> Iterator[GuiProcess]:
    """The GUI process with alice and bob (tokens) and vera, a viewer."""
    yield from gui_with_a_viewer(etcd_server, etcd_store, tmp_path)


async def test_cordon_from_the_nodes_page_after_confirmation_names_the_user(
    served: GuiProcess, browser: Browser, etcd_store: EtcdStore
) -> None:
    began = time.monotonic()
    await etcd_store.create(detector_node("flp1", "TPC"))
    await browser.goto(served.url + "#/nodes")
    await browser.wait_for(f"document.querySelector({CORDON!r})")
    await browser.type_into("#token", "alice-token-123")
    await browser.click(CORDON)
    await browser.wait_for("document.getElementById('confirm').open")
    await browser.click("#confirm-ok")

    async def cordoned() -> Node:
        return await etcd_store.get(Node, "flp1")

    node: Node = await eventually(cordoned, until=lambda n: n.spec.unschedulable, within=10)
    assert changed_by(node) == "alice"
    await browser.wait_for(
        "document.querySelector('[data-node=flp1] [data-field=cordoned]')"
        ".textContent.includes('CORDONED') && "
        "document.querySelector('[data-node-action=uncordon][data-node=flp1]')"
    )

    async def events() -> list[Event]:  # written after the Node: the page may show it first
        return (await etcd_store.list(Event)).items

    (event,) = await eventually(events, until=lambda items: len(items) > 0, within=10)
    assert event.spec.involved_object.name == "flp1" and "alice" in event.spec.message
    await browser.goto(served.url + "#/audit?user=alice")
    await browser.wait_for("document.querySelectorAll('#audit [data-audit]').length === 1")
    assert await browser.text("#audit [data-field=object]") == "node/flp1"
    assert time.monotonic() - began < 15


@pytest.mark.parametrize(
    ("token", "signed_in"),
    [("vera-viewer-token", "vera · viewer"), ("sam-shifter-token", "sam · shifter")],
)
async def test_a_viewer_or_shifter_sees_no_node_actions(
    served: GuiProcess, browser: Browser, etcd_store: EtcdStore, token: str, signed_in: str
) -> None:
    """Node operations are the admins': the page offers them to no one else."""
    await etcd_store.create(detector_node("flp1", "TPC"))
    await browser.goto(served.url + "#/nodes/flp1")
    await browser.wait_for(f"document.querySelector({CORDON!r})")
    await browser.type_into("#token", token)
    await browser.wait_for(f"document.querySelector('#whoami').textContent === {signed_in!r}")
    await browser.wait_for(
        "document.querySelector('[data-node-detail=flp1]') && "
        "!document.querySelector('[data-node-action]') && "
        "!document.querySelector('#drain-standalone')"
    )


async def test_pilot_back_off_shows_in_the_list_and_the_node_detail(
    served: GuiProcess, browser: Browser, etcd_store: EtcdStore
) -> None:
    wait = datetime(2026, 3, 1, 12, 30, 5, tzinfo=UTC)
    backoff = PilotBackOff(failures=3, pilot="pilot-flp2-3", phase="Failed", not_before=wait)
    node = detector_node("flp2", "ITS")
    created = await etcd_store.create(node.model_copy(update={"spec": NodeSpec(mode="async")}))
    status = node.status.model_copy(update={"backoff": backoff})
    await etcd_store.update_status(created.model_copy(update={"status": status}))
    cell = "document.querySelector('[data-node=flp2] [data-field=pilot]')"
    await browser.goto(served.url + "#/nodes")
    await browser.wait_for(f"{cell} && {cell}.textContent.includes('back-off')")
    shown = await browser.evaluate(f"{cell}.textContent")
    assert shown == "back-off: 3\N{MULTIPLICATION SIGN} ended, next after 12:30:05Z"
    await browser.goto(served.url + "#/nodes/flp2")
    await browser.wait_for("document.querySelector('[data-node-detail=flp2]')")
    detail = await browser.text("[data-node-detail=flp2]") or ""
    assert "Back-off: 3 pilots ended in a row (last Failed" in detail
