"""End-to-end in headless Chromium: the real GUI process, a real etcd, the page seen over CDP."""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from crds.kinds.environment import Environment
from crds.kinds.event import Event
from crds.kinds.task import Task
from hack.bench.gui_browser_bench import FILTER, interaction
from store.embedded import EmbeddedEtcd, free_port
from store.etcd import EtcdStore
from tests.gui.cdp import Browser, find_chromium
from tests.gui.conftest import TOKENS
from tests.gui.procs import GuiProcess, gui_process
from tests.gui.samples import environment, task

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        find_chromium() is None,
        reason="chromium is not installed: run hack/install-browser.sh (apt chromium)",
    ),
]

CHANGES = 50
MANIFEST = """\
apiVersion: o2/v1alpha1
kind: Environment
metadata:
  name: physics-1
spec:
  workflow: readout-dataflow
  state: STANDBY
"""
STATE = "[data-env='physics-1'] [data-field='state']"
RUN = "[data-env='physics-1'] [data-field='run']"
MESSAGE = "[data-env='physics-1'] .message"


@pytest.fixture
def served(
    etcd_server: EmbeddedEtcd, etcd_store: EtcdStore, tmp_path: Path
) -> Iterator[GuiProcess]:
    token_file = tmp_path / "tokens"
    token_file.write_text(TOKENS)
    token_file.chmod(0o600)
    with gui_process(
        etcd=etcd_server.endpoint, prefix=etcd_store.prefix, token_file=token_file
    ) as proc:
        yield proc


async def set_status(store: EtcdStore, name: str, **changes: object) -> Environment:
    env = await store.get(Environment, name)
    return await store.update_status(
        env.model_copy(update={"status": env.status.model_copy(update=changes)})
    )


async def spec_written(store: EtcdStore, name: str, *, after: int) -> Environment:
    """The environment once someone (the GUI server) changes its spec: watched, not polled."""
    async with asyncio.timeout(10):
        stream = store.watch(Environment, start_revision=after + 1)
        async with contextlib.aclosing(stream):  # type: ignore[type-var]
            async for event in stream:
                if (
                    event.name == name
                    and event.obj is not None
                    and event.obj.metadata.generation > 1
                ):
                    return event.obj
    raise AssertionError("watch ended")


def o2_apply(etcd: str, prefix: str, manifest: Path) -> None:
    """`o2 apply -f` as an operator would type it (the CLI is a real subprocess)."""
    o2 = Path(sys.executable).with_name("o2")
    done = subprocess.run(
        [str(o2), "--etcd", etcd, "--prefix", prefix, "apply", "-f", str(manifest)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


async def test_applied_environment_appears_and_follows_status_without_reload(
    served: GuiProcess,
    browser: Browser,
    etcd_store: EtcdStore,
    etcd_server: EmbeddedEtcd,
    tmp_path: Path,
) -> None:
    manifest = tmp_path / "physics-1.yaml"
    manifest.write_text(MANIFEST)
    await asyncio.to_thread(o2_apply, etcd_server.endpoint, etcd_store.prefix, manifest)
    await etcd_store.create(task("readout-0", role="flp.readout", state="STANDBY"))
    await browser.goto(served.url + "#/environments")
    await browser.wait_for(f"document.querySelector({STATE!r})")
    assert await browser.text(STATE) == "STANDBY"
    await browser.evaluate("window.o2marker = 'same page'")

    latencies = []
    for i in range(CHANGES):
        state = "CONFIGURED" if i % 2 == 0 else "DEPLOYED"
        seen = asyncio.ensure_future(
            browser.wait_for(
                f"document.querySelector({STATE!r}).textContent.trim() === {state!r} && "
                f"document.querySelector({MESSAGE!r}).textContent === 'change {i}'"
            )
        )
        await asyncio.sleep(0)
        started = time.perf_counter()
        await set_status(etcd_store, "physics-1", state=state, message=f"change {i}")
        await seen
        latencies.append(time.perf_counter() - started)
    assert await browser.evaluate("window.o2marker") == "same page"  # never reloaded
    latencies.sort()
    p50 = statistics.median(latencies)
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    print(
        f"\netcd write -> page shows it over {CHANGES} changes: "
        f"p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms"
    )
    assert p99 < 1.0


async def test_start_with_token_writes_spec_state_and_page_shows_running_with_run_number(
    served: GuiProcess, browser: Browser, etcd_store: EtcdStore
) -> None:
    await etcd_store.create(environment("physics-1", state="CONFIGURED"))
    before = await set_status(etcd_store, "physics-1", state="CONFIGURED")
    await browser.goto(served.url + "#/environments/physics-1")
    await browser.wait_for("document.querySelector('#action-start')")
    await browser.type_into("#token", "alice-token-123")
    await browser.click("#action-start")

    env = await spec_written(etcd_store, "physics-1", after=before.metadata.resource_version or 0)
    await set_status(etcd_store, "physics-1", state="RUNNING", run_number=4242)
    await browser.wait_for(
        f"document.querySelector({STATE!r}).textContent.trim() === 'RUNNING' && "
        f"document.querySelector({RUN!r}).textContent === '4242'"
    )
    events = (await etcd_store.list(Event)).items
    assert [e.spec.involved_object.name for e in events] == ["physics-1"]
    assert "alice" in events[0].spec.message
    await browser.wait_for("document.querySelector('[data-event]')")  # shown in the timeline
    assert env.spec.state == "RUNNING"


async def test_stop_asks_for_confirmation_and_cancel_writes_nothing(
    served: GuiProcess, browser: Browser, etcd_store: EtcdStore
) -> None:
    await etcd_store.create(environment("physics-1", state="RUNNING"))
    await browser.goto(served.url + "#/environments/physics-1")
    await browser.wait_for("document.querySelector('#action-stop')")
    await browser.type_into("#token", "alice-token-123")
    await browser.click("#action-stop")
    await browser.wait_for("document.getElementById('confirm').open")
    await browser.click("#confirm-cancel")
    await browser.wait_for("!document.getElementById('confirm').open")
    assert (await etcd_store.get(Environment, "physics-1")).spec.state == "RUNNING"


async def test_tasks_view_filters_by_state_from_the_url(
    served: GuiProcess, browser: Browser, etcd_store: EtcdStore
) -> None:
    for i in range(5):
        await etcd_store.create(task(f"t-{i}", state="RUNNING" if i < 3 else "ERROR"))
    await browser.goto(served.url + "#/tasks?state=ERROR")
    await browser.wait_for("document.querySelectorAll('#tasks [data-task]').length === 2")
    assert await browser.text("#task-count") == "2 of 5 tasks"


async def test_page_reconnects_after_a_server_restart_and_resyncs(
    etcd_server: EmbeddedEtcd, browser: Browser, etcd_store: EtcdStore
) -> None:
    await etcd_store.create(environment("physics-1"))
    listen = f"127.0.0.1:{free_port()}"
    with gui_process(etcd=etcd_server.endpoint, prefix=etcd_store.prefix, listen=listen) as gui:
        await browser.goto(gui.url + "#/environments")
        await browser.wait_for(f"document.querySelector({STATE!r})")
    await browser.wait_for("document.getElementById('conn').textContent === 'RECONNECTING'")
    await set_status(etcd_store, "physics-1", state="DEPLOYED")  # while the server is down
    await etcd_store.create(environment("physics-2"))
    with gui_process(etcd=etcd_server.endpoint, prefix=etcd_store.prefix, listen=listen):
        await browser.wait_for(
            f"document.querySelector({STATE!r}).textContent.trim() === 'DEPLOYED' && "
            "document.querySelector(\"[data-env='physics-2']\") && "
            "document.getElementById('conn').textContent.startsWith('LIVE')"
        )


@pytest.mark.slow
async def test_ten_thousand_tasks_page_stays_responsive(
    served: GuiProcess, browser: Browser, etcd_store: EtcdStore
) -> None:
    gate = asyncio.Semaphore(64)

    async def create(i: int) -> None:
        async with gate:
            await etcd_store.create(
                task(f"t-{i:05d}", role=f"flp-{i % 40}.readout", state="CONFIGURED")
            )

    await asyncio.gather(*(create(i) for i in range(10_000)))
    started = time.perf_counter()
    await browser.goto(served.url + "#/tasks?state=CONFIGURED")
    await browser.wait_for(
        "document.querySelector('#task-count').textContent.startsWith('10000 of')"
    )
    loaded = time.perf_counter() - started
    narrowed = "!document.querySelector('#task-count').textContent.startsWith('10000 of')"
    filter_ms = await interaction(browser, FILTER.format(text="t-042"), narrowed)
    await browser.evaluate(f"(() => {{ {FILTER.format(text='')}; }})()")
    await browser.wait_for(
        "document.querySelector('#task-count').textContent.startsWith('10000 of')"
    )
    scroll_ms = await interaction(browser, "window.scrollBy(0, 2000)")
    listed = (await etcd_store.list(Task)).items
    flipped = [
        t.model_copy(update={"status": t.status.model_copy(update={"state": "RUNNING"})})
        for t in listed
    ]
    started = time.perf_counter()
    await etcd_store.update_status_many(flipped)
    await browser.wait_for(
        "document.querySelector('#task-count').textContent.startsWith('0 of 10000')", within=60
    )
    followed = time.perf_counter() - started
    render_ms = await browser.evaluate(
        "(() => { const t = performance.now(); location.hash = '#/tasks?sort=node&dir=desc';"
        " window.dispatchEvent(new HashChangeEvent('hashchange'));"
        " return new Promise(r => requestAnimationFrame(() => r(performance.now() - t))); })()"
    )
    print(
        f"\n10k tasks: page loaded in {loaded:.2f}s, followed a 10k START in {followed:.2f}s, "
        f"re-sort+render {render_ms:.0f} ms, filter {filter_ms:.0f} ms, scroll {scroll_ms:.0f} ms"
    )
    # The control room's targets are first paint < 2 s, a filter and a scroll < 200 ms
    # (hack.bench.gui_browser_bench measures them quietly); five times that on a shared machine.
    assert loaded < 10 and filter_ms < 1000 and scroll_ms < 1000
    assert render_ms < 1000
