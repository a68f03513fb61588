"""The control room page with 10,000 tasks in the feed, measured in the browser.

    .venv/bin/python -m hack.bench.gui_browser_bench [--tasks 10000] [--runs 5]

A real etcd holding N Task objects, the real GUI process (`python -m gui`) and headless
Chromium driven over CDP (tests.gui.cdp). Measured with `performance.now()` in the page:
- first paint: from navigation start to the tasks table showing all N tasks (the snapshot
  read, sent and rendered), and the browser's own first-contentful-paint entry;
- filter: typing a name into the tasks filter box until the next frame after the re-render;
- next page: a click on "next" until the next frame;
- scroll: scrolling the window by 2,000 px until the next frame;
- sort: re-sorting by node (hash change) until the next frame.
The median of `--runs` of each interaction is reported against the control-room targets
(first paint < 2 s, a table scroll and a filter < 200 ms). Prints a table, writes
hack/bench/results/gui_browser_bench.json. A shared 2-core machine: an order of magnitude.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from hack.bench.floor import write_json
from store.config import StoreConfig, open_store
from tests.etcd_fixture import start_etcd
from tests.gui.cdp import Browser
from tests.gui.procs import gui_process
from tests.gui.samples import task

TARGETS_MS = {"first_paint": 2000.0, "filter": 200.0, "scroll": 200.0}

FILTER = (
    "const q = document.querySelector('#f-q'); q.value = {text!r}; "
    "q.dispatchEvent(new Event('input', {{bubbles: true}}))"
)


async def interaction(browser: Browser, action: str, until: str = "true") -> float:
    """Milliseconds from `action` (JS statements) until `until` (a JS expression) holds in the
    DOM and the next frame is painted."""
    script = f"""(() => {{
      const t = performance.now();
      {action};
      return new Promise((resolve) => {{
        const done = () => requestAnimationFrame(
          () => setTimeout(() => resolve(performance.now() - t)));
        if ({until}) return done();
        const obs = new MutationObserver(() => {{ if ({until}) {{ obs.disconnect(); done(); }} }});
        obs.observe(document, {{subtree: true, childList: true, characterData: true}});
      }});
    }})()"""
    return float(await browser.evaluate(script))


async def bench(endpoint: str, *, tasks: int, runs: int) -> dict[str, Any]:
    store = await open_store(StoreConfig(endpoints=(endpoint,), prefix="/o2"))
    gate = asyncio.Semaphore(64)

    async def create(i: int) -> None:
        async with gate:
            role = f"flp-{i % 40}.readout"
            await store.create(task(f"t-{i:05d}", role=role, state="CONFIGURED"))

    await asyncio.gather(*(create(i) for i in range(tasks)))
    kinds = ("first_paint", "fcp", "filter", "next_page", "scroll", "sort")
    samples: dict[str, list[float]] = {k: [] for k in kinds}
    shown = f"document.querySelector('#task-count')?.textContent.endsWith('of {tasks} tasks')"
    paint = "(performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime"
    with gui_process(etcd=endpoint, prefix="/o2") as gui:
        async with Browser() as browser:
            for run in range(runs):
                started = time.perf_counter()
                await browser.goto(f"{gui.url}?run={run}#/tasks")
                await browser.wait_for(shown, within=60)
                samples["first_paint"].append(1000 * (time.perf_counter() - started))
                samples["fcp"].append(float(await browser.evaluate(paint) or 0))
                typed = FILTER.format(text=f"t-0{run}")
                narrowed = (
                    f"!document.querySelector('#task-count').textContent.startsWith('{tasks} of')"
                )
                samples["filter"].append(await interaction(browser, typed, narrowed))
                await browser.evaluate(f"(() => {{ {FILTER.format(text='')}; }})()")
                await browser.wait_for(
                    f"document.querySelector('#task-count').textContent.startsWith('{tasks} of')"
                )
                click = "document.querySelector('.pager [data-page]:last-of-type').click()"
                paged = "document.querySelector('.pager span').textContent.startsWith('page 2')"
                samples["next_page"].append(await interaction(browser, click, paged))
                samples["scroll"].append(await interaction(browser, "window.scrollBy(0, 2000)"))
                resort = "location.hash = '#/tasks?sort=node&dir=desc'"
                sorted_ = "!!document.querySelector('th.sorted[data-sort=node]')"
                samples["sort"].append(await interaction(browser, resort, sorted_))
    await store.close()
    medians = {k: statistics.median(v) for k, v in samples.items()}
    return {
        "tasks": tasks,
        "runs": runs,
        "median_ms": medians,
        "max_ms": {k: max(v) for k, v in samples.items()},
        "targets_ms": TARGETS_MS,
        "met": {k: medians[k] <= limit for k, limit in TARGETS_MS.items()},
        "load_average": list(os.getloadavg()),
    }


def print_table(result: dict[str, Any]) -> None:
    load = result["load_average"][0]
    print(f"{result['tasks']} tasks, {result['runs']} runs (load average {load:.1f})")
    print(f"{'measure':<12} {'median ms':>10} {'max ms':>10} {'target ms':>10}")
    for key, median in result["median_ms"].items():
        target = TARGETS_MS.get(key)
        shown = f"{target:.0f}" if target is not None else ""
        print(f"{key:<12} {median:>10.1f} {result['max_ms'][key]:>10.1f} {shown:>10}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="o2-gui-browser-bench-") as tmp:
        etcd = start_etcd(Path(tmp) / "etcd")
        try:
            result = asyncio.run(bench(etcd.endpoint, tasks=args.tasks, runs=args.runs))
        finally:
            etcd.stop_sync()
    print_table(result)
    print(f"wrote {write_json('gui_browser_bench', result)}")


if __name__ == "__main__":
    main()
