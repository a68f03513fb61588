"""Screenshots of the GUI's main views into docs/screenshots/: a real etcd with sample data, the
real GUI process and headless Chromium. Run: .venv/bin/python -m hack.screenshots"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from pathlib import Path

from crds.kinds.environment import Environment
from crds.meta import utcnow
from gui.actions import action_event, record_event
from gui.nodes import node_action
from gui.presets import save_preset
from store.api import Store
from store.config import StoreConfig, open_store
from tests.etcd_fixture import start_etcd
from tests.gui.cdp import Browser, CdpError
from tests.gui.procs import gui_process
from tests.gui.runlog_world import populate_runs
from tests.gui.samples import SCALABLE_WORKFLOW, workflow
from tests.gui.world import populate

TOKEN = "screenshot-token"
OUT = Path(__file__).resolve().parents[1] / "docs" / "screenshots"
VIEWS = (
    ("environments", "#/environments", "#environments [data-env]"),
    ("environment-detail", "#/environments/physics-1", ".detail .tree"),
    ("environment-error", "#/environments/tech-its", ".detail .tree"),
    ("tasks", "#/tasks?sort=env&dir=desc", "#tasks [data-task]"),
    ("nodes", "#/nodes", "[data-node]"),
    ("gitsources", "#/gitsources", "[data-gitsource]"),
    ("runs", "#/runs?env=physics-1", "#plot-scaling svg circle"),
    ("node-detail", "#/nodes/flp003", "#node-tasks"),
    ("audit", "#/audit", "#audit [data-audit]"),
    ("wizard", "#/new", "#wz-preset"),
)
LIVE_EXCLUDE = "[data-live-exclude]"


async def audit_trail(store: Store) -> None:
    """A few GUI actions, so the Audit view has rows: a node cordoned, an environment asked."""
    await node_action(store, "flp003", action="cordon", who="alice")
    env = await store.get(Environment, "physics-1")
    await record_event(store, action_event(env, action="configure", who="bob", now=utcnow()))


async def control_room(store: Store) -> None:
    """The wizard's public Workflow (the environments run it) and a saved preset for it."""
    await store.create(workflow(SCALABLE_WORKFLOW))
    preset = {"vars": {"n_flp": "4", "comment": "TPC physics"}, "detectors": ["TPC"]}
    await save_preset(store, "readout-dataflow", "TPC physics", preset, who="alice")


async def live_preview(browser: Browser, url: str) -> bytes:
    """The environment page with the Live changes panel previewing an exclusion's diff."""
    await browser.goto(url + "#/environments/physics-1")
    await browser.type_into("#token", TOKEN)
    await browser.wait_for(f"document.querySelector({LIVE_EXCLUDE!r})", within=30)
    await browser.wait_for("document.querySelector('#whoami').textContent.startsWith('alice')")
    for _ in range(5):  # a click landing while the panel re-renders is lost: click again
        await browser.evaluate(
            f"document.querySelector({LIVE_EXCLUDE!r}).scrollIntoView({{block: 'center'}})"
        )
        await browser.click(LIVE_EXCLUDE)
        with contextlib.suppress(CdpError):
            await browser.wait_for("document.querySelector('#live-diff')", within=3)
            break
    await browser.wait_for("document.querySelector('#live-diff')")
    await browser.evaluate("document.querySelector('#live').scrollIntoView({block: 'center'})")
    await asyncio.sleep(0.3)  # let the clock tick render
    return await browser.screenshot()


async def shoot(endpoint: str, prefix: str) -> None:
    store = await open_store(StoreConfig(endpoints=(endpoint,), prefix=prefix))
    await populate(store)
    await populate_runs(store, prefix)
    await audit_trail(store)
    await control_room(store)
    await store.close()
    token_dir = Path(tempfile.mkdtemp(prefix="o2-shots-"))
    (token_dir / "tokens").write_text(f"alice:{TOKEN}\n")
    (token_dir / "tokens").chmod(0o600)
    OUT.mkdir(parents=True, exist_ok=True)
    with gui_process(etcd=endpoint, prefix=prefix, token_file=token_dir / "tokens") as gui:
        async with Browser(width=1600, height=1000) as browser:
            dark = [{"name": "prefers-color-scheme", "value": "dark"}]
            await browser.send("Emulation.setEmulatedMedia", features=dark)  # the default look
            for name, route, ready in VIEWS:
                await browser.goto(gui.url + route)
                await browser.wait_for(f"document.querySelector({ready!r})")
                await asyncio.sleep(0.3)  # let the clock tick render
                (OUT / f"{name}.png").write_bytes(await browser.screenshot())
                print(f"wrote {OUT / name}.png")
            (OUT / "environment-live.png").write_bytes(await live_preview(browser, gui.url))
            print(f"wrote {OUT / 'environment-live'}.png")


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="o2-shots-etcd-") as tmp:
        etcd = start_etcd(Path(tmp) / "data")
        try:
            asyncio.run(shoot(etcd.endpoint, "/o2"))
        finally:
            etcd.stop_sync()


if __name__ == "__main__":
    main()
