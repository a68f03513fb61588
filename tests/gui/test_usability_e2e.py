"""Control-room usability in headless Chromium (the real GUI process on a real etcd with the
screenshot world): deep links at 1280x800 without horizontal overflow, a 2560x1440 screen filled,
dark/light themes, the search box, keyboard navigation of tables, the feed-disconnected banner,
and clicks that survive a re-render."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import AsyncIterator, Iterator

import pytest

from store.embedded import EmbeddedEtcd
from store.etcd import EtcdStore
from tests.gui.cdp import Browser, Chromium, find_chromium
from tests.gui.procs import GuiProcess, gui_process
from tests.gui.runlog_world import populate_runs
from tests.gui.samples import SCALABLE_WORKFLOW, detector_node, workflow
from tests.gui.world import populate

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        find_chromium() is None,
        reason="chromium is not installed: run hack/install-browser.sh (apt chromium)",
    ),
]

MAIN_VIEWS = (
    ("environments", "#/environments", "#environments [data-env]"),
    ("environments", "#/environments/physics-1", ".detail .tree"),
    ("tasks", "#/tasks?sort=env&dir=desc", "#tasks [data-task]"),
    ("nodes", "#/nodes", "[data-node]"),
    ("nodes", "#/nodes/flp003", "#node-tasks"),
    ("gitsources", "#/gitsources", "[data-gitsource]"),
    ("runs", "#/runs", "#runs [data-run]"),
    ("audit", "#/audit", "#audit"),
    ("new", "#/new", "#wz-create"),
)
KEYS = {"ArrowDown": 40, "ArrowUp": 38, "Enter": 13}


@pytest.fixture
async def world(etcd_store: EtcdStore) -> None:
    await populate(etcd_store)
    await populate_runs(etcd_store, etcd_store.prefix)


@pytest.fixture
def served(etcd_server: EmbeddedEtcd, etcd_store: EtcdStore, world: None) -> Iterator[GuiProcess]:
    with gui_process(etcd=etcd_server.endpoint, prefix=etcd_store.prefix) as proc:
        yield proc


@pytest.fixture
async def browser(chromium: Chromium) -> AsyncIterator[Browser]:
    async with Browser(width=1280, height=800, chromium=chromium) as b:
        yield b
        assert b.exceptions == [], "the page threw"


async def press(browser: Browser, key: str) -> None:
    code = KEYS[key]
    for kind in ("rawKeyDown", "keyUp"):
        await browser.send(
            "Input.dispatchKeyEvent", type=kind, key=key, code=key, windowsVirtualKeyCode=code
        )
    if key == "Enter":  # Enter also types a char event, as a real keyboard does
        await browser.send("Input.dispatchKeyEvent", type="char", text="\r")


async def test_every_view_deep_links_and_fits_1280x800(
    served: GuiProcess, browser: Browser
) -> None:
    for view, route, ready in MAIN_VIEWS:
        await browser.goto(served.url + route)
        await browser.wait_for(f"document.querySelector({ready!r})")
        assert await browser.evaluate("document.querySelector('#view').dataset.view") == view
        overflow = await browser.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{route} overflows horizontally by {overflow}px at 1280x800"


async def test_a_large_control_room_screen_is_filled_without_overflow(
    served: GuiProcess, chromium: Chromium
) -> None:
    async with Browser(width=2560, height=1440, chromium=chromium) as big:
        for _, route, ready in MAIN_VIEWS:
            await big.goto(served.url + route)
            await big.wait_for(f"document.querySelector({ready!r})")
            overflow = await big.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, f"{route} overflows horizontally by {overflow}px at 2560x1440"
        await big.goto(served.url + "#/tasks")
        await big.wait_for("document.querySelector('#tasks [data-task]')")
        share = await big.evaluate(
            "document.querySelector('#tasks').getBoundingClientRect().width / innerWidth"
        )
        assert share > 0.9, f"the tasks table takes {share:.0%} of a 2560 px wide screen"
        assert big.exceptions == [], "the page threw"


async def test_theme_defaults_to_the_os_preference_and_the_toggle_is_remembered(
    served: GuiProcess, browser: Browser
) -> None:
    await browser.send(
        "Emulation.setEmulatedMedia", features=[{"name": "prefers-color-scheme", "value": "light"}]
    )
    await browser.goto(served.url + "#/environments")
    theme = "document.documentElement.dataset.theme"
    await browser.wait_for(f"{theme} === 'light'")
    await browser.click("#theme")
    await browser.wait_for(f"{theme} === 'dark'")
    await browser.goto(served.url + "#/nodes")
    await browser.wait_for(f"{theme} === 'dark'")
    background = await browser.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(11, 15, 20)"


async def test_search_finds_nodes_environments_and_tasks_and_enter_opens_the_first(
    served: GuiProcess, browser: Browser
) -> None:
    await browser.goto(served.url + "#/environments")
    await browser.wait_for("document.querySelector('#environments [data-env]')")
    await browser.type_into("#search", "physics")
    hits = await browser.evaluate(
        "[...document.querySelectorAll('[data-search-hit]')].map((a) => a.getAttribute('href'))"
    )
    assert hits[0] == "#/environments/physics-1"
    assert any(h.startswith("#/tasks?q=physics-1-") for h in hits), hits
    await browser.evaluate("document.querySelector('#search').select()")
    await browser.send("Input.insertText", text="flp003")
    await browser.wait_for(
        "document.querySelector('[data-search-hit]')?.textContent.includes('flp003')"
    )
    await press(browser, "Enter")
    await browser.wait_for("location.hash === '#/nodes/flp003'")
    assert await browser.evaluate("document.querySelector('#search-results').hidden")


async def test_arrow_keys_move_the_highlighted_row_and_enter_opens_it(
    served: GuiProcess, browser: Browser
) -> None:
    await browser.goto(served.url + "#/environments")
    rows = "#environments tbody tr"
    await browser.wait_for(f"document.querySelectorAll({rows!r}).length === 3")
    for key in ("ArrowDown", "ArrowDown", "ArrowDown", "ArrowUp"):
        await press(browser, key)
    highlighted = await browser.evaluate(
        f"[...document.querySelectorAll({rows!r})].findIndex((r) => r.classList.contains('kb-row'))"
    )
    assert highlighted == 1
    target = await browser.evaluate(f"document.querySelectorAll({rows!r})[1].dataset.href")
    await press(browser, "Enter")
    await browser.wait_for(f"location.hash === {json.dumps(target)}")


async def test_banner_shows_the_age_of_the_data_when_the_feed_drops(
    served: GuiProcess, browser: Browser
) -> None:
    await browser.goto(served.url + "#/environments")
    await browser.wait_for("document.querySelector('#conn').textContent.startsWith('LIVE')")
    assert await browser.evaluate("document.querySelector('#feed-banner').hidden")
    os.kill(served.pid, signal.SIGTERM)  # the GUI this test started
    await browser.wait_for("!document.querySelector('#feed-banner').hidden")
    banner = "document.querySelector('#feed-banner').textContent"
    await browser.wait_for(f"/data shown is [1-9][0-9]* s old/.test({banner})", within=15)
    assert "disconnected" in (await browser.text("#feed-banner") or "")


async def test_a_feed_update_between_press_and_release_does_not_swallow_the_click(
    served: GuiProcess, browser: Browser, etcd_store: EtcdStore
) -> None:
    await etcd_store.create(workflow(SCALABLE_WORKFLOW))
    await browser.goto(served.url + "#/new")
    box = "#wz-running"
    await browser.wait_for(f"document.querySelector({box!r})")
    x, y = await browser.evaluate(
        f"(() => {{ const r = document.querySelector({box!r}).getBoundingClientRect(); "
        "return [r.x + r.width / 2, r.y + r.height / 2]; })()"
    )
    mouse = {"x": x, "y": y, "button": "left", "clickCount": 1}
    await browser.send("Input.dispatchMouseEvent", type="mousePressed", **mouse)
    await etcd_store.create(detector_node("flp-new", "FOC"))  # a delta: the feed re-renders
    await browser.wait_for("window.o2store.objects.nodes.has('flp-new')")
    await browser.evaluate("new Promise((r) => requestAnimationFrame(() => setTimeout(r)))")
    await browser.send("Input.dispatchMouseEvent", type="mouseReleased", **mouse)
    await browser.evaluate("new Promise((r) => requestAnimationFrame(() => setTimeout(r)))")
    assert await browser.evaluate(f"document.querySelector({box!r}).checked")
