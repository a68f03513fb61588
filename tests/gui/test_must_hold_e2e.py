"""The control room's must-hold scenario in headless Chromium against the real stack: etcd, a
local Mesos cluster with TPC, ITS and MCH agents, the controller manager (tasks, environments,
nodes) and the GUI process. A shifter creates `readout-dataflow` (o2's sample, with two public
variables declared) through the wizard, sets a variable by its widget, starts it, includes MCH
live, stops it and finds the run with its plots (the task-count one too); every step is read
back through `etcdctl get` and `o2 get env|runs -o json`. A viewer is then refused (403,
nothing written) and the audit view names the shifter for each action."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from crds.kinds.environment import Environment
from crds.kinds.node import Node
from crds.manifest import parse_resource
from crds.runlog import log_prefix, newest_first, record_key
from gui.auth import hash_token
from store.api import ListResult, Store
from store.embedded import EmbeddedEtcd, etcd_binary
from store.etcd import EtcdStore
from tests.environments.helpers import SAMPLES, samples
from tests.environments.test_e2e import (
    localmesos_factory,
    manager,
    manager_factory,
    reached,
    store,
    wait_env,
)
from tests.gui.cdp import Browser, CdpError, find_chromium
from tests.gui.procs import ROOT, GuiProcess, gui_process
from tests.gui.test_wizard_e2e import click, set_value
from tests.mesos_fixture import LocalMesosProcess
from tests.stack import SAMPLE_TASK, LocalMesosFactory, port_slice, start_cluster
from tests.waiting import eventually

__all__ = ["localmesos_factory", "manager", "manager_factory", "store"]

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.slow,
    pytest.mark.skipif(
        find_chromium() is None,
        reason="chromium is not installed: run hack/install-browser.sh (apt chromium)",
    ),
]

SHIFTER, VIEWER = "sam-shifter-token", "vera-viewer-token"
WITHIN = 60.0
AGENTS = """
- hostname: flp-tpc
  resources: {{cpus: 8, mem: 8192, ports: "[{a}-{a_end}]"}}
  attributes: {{detector: TPC}}
- hostname: flp-its
  resources: {{cpus: 8, mem: 8192, ports: "[{b}-{b_end}]"}}
  attributes: {{detector: ITS}}
- hostname: flp-mch
  resources: {{cpus: 8, mem: 8192, ports: "[{c}-{c_end}]"}}
  attributes: {{detector: MCH}}
"""
DETECTORS = {"TPC", "ITS", "MCH"}
VARIABLES = {
    "detectors": {"type": "list", "label": "Detectors", "panel": "General"},
    "qc_replicas": {"type": "number", "widget": "editBox", "label": "QC replicas"},
}


@pytest.fixture
def controllers() -> tuple[str, ...]:
    return (
        "controller.tasks.controller:TaskReconciler",
        "controller.environments.controller:EnvironmentReconciler",
        "controller.nodes.controller:NodeReconciler",
    )


@pytest.fixture
def cluster(localmesos_factory: LocalMesosFactory, tmp_path: Path) -> LocalMesosProcess:
    base = port_slice(300)
    ends = {"a": base, "b": base + 100, "c": base + 200}
    agents = AGENTS.format(**ends, **{f"{k}_end": v + 99 for k, v in ends.items()})
    return start_cluster(localmesos_factory, tmp_path, agents)


@pytest.fixture
def served(etcd_server: EmbeddedEtcd, store: Store, tmp_path: Path) -> Iterator[GuiProcess]:
    users = tmp_path / "users"
    users.write_text(f"sam:shifter:{hash_token(SHIFTER)}\nvera:viewer:{hash_token(VIEWER)}\n")
    users.chmod(0o600)
    with gui_process(
        etcd=etcd_server.endpoint, prefix=store.prefix, extra=("--users-file", str(users))
    ) as proc:
        yield proc


async def apply_workflow(store: Store) -> None:
    """o2's sample `readout-dataflow`, public with typed variables, run by the sample task."""
    _, _, classes = samples()
    for taskclass in classes.values():
        command = taskclass.spec.command.model_copy(update={"value": SAMPLE_TASK})
        spec = taskclass.spec.model_copy(update={"command": command})
        await store.create(taskclass.model_copy(update={"spec": spec}))
    data = yaml.safe_load((SAMPLES / "workflow-readout-dataflow.yaml").read_text())
    data["spec"].update(public=True, variables=VARIABLES, description="Sample dataflow")
    await store.create(parse_resource(data, source="sample"))


async def detectors_known(store: Store) -> None:
    """Until the node controller has a Node per agent: the wizard's detectors come from them."""

    def detectors(listed: ListResult[Node]) -> bool:
        return {n.status.attributes.get("detector") for n in listed.items} == DETECTORS

    await eventually(lambda: store.list(Node), until=detectors, within=WITHIN)


class Views:
    """The same Environment as `etcdctl get` prints its key and as `o2 get` prints it."""

    def __init__(self, store: EtcdStore, endpoint: str) -> None:
        self.store = store
        self.endpoint = endpoint
        self.env = {**os.environ, "O2_ETCD": endpoint, "O2_PREFIX": store.prefix}

    def etcdctl(self, key: str, *flags: str) -> str:
        done = subprocess.run(
            [str(etcd_binary("etcdctl")), f"--endpoints={self.endpoint}", "get", key, *flags],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        return done.stdout

    async def raw(self, name: str) -> dict[str, Any]:
        value = self.etcdctl(self.store.key_for(Environment, name), "--print-value-only")
        assert value.strip(), f"no key for environment/{name}"
        found: dict[str, Any] = json.loads(value)
        return found

    def cli(self, name: str, kind: str = "env") -> dict[str, Any]:
        what = ["runs", "--env", name] if kind == "runs" else [kind, name]
        done = subprocess.run(
            [sys.executable, "-m", "cli", "get", *what, "-o", "json"],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        found: dict[str, Any] = json.loads(done.stdout)
        return found

    async def both(self, name: str) -> list[dict[str, Any]]:
        return [await self.raw(name), self.cli(name)]


async def status_in_page(browser: Browser, text: str) -> None:
    await browser.wait_for(
        f"document.querySelector('#view').textContent.includes({json.dumps(text)})",
        within=WITHIN,
    )


async def create_through_wizard(browser: Browser, served: GuiProcess) -> None:
    await browser.goto(served.url + "#/new")
    await browser.type_into("#token", SHIFTER)
    await browser.wait_for("document.querySelector('#whoami').textContent === 'sam · shifter'")
    await browser.wait_for("document.querySelector('[data-wz-detector=MCH]')", within=WITHIN)
    await set_value(browser, "#wz-var-qc_replicas", "2")
    for detector in ("TPC", "ITS"):
        await check_box(browser, f"[data-wz-detector={detector}]")
    await browser.type_into("#wz-name", "rd")
    await click(browser, "#wz-running")
    await click(browser, "#wz-create")
    await browser.wait_for("location.hash === '#/environments/rd'", within=WITHIN)


async def check_box(browser: Browser, box: str) -> None:
    """Click until checked: the box's position is read before the press, and a render moving
    it in between (the wizard's offer arriving) sends the press elsewhere."""
    checked = f"document.querySelector({box!r}).checked"
    for _ in range(5):
        if await browser.evaluate(checked):
            return
        await click(browser, box)
        with contextlib.suppress(CdpError):
            await browser.wait_for(checked, within=2)
    assert await browser.evaluate(checked), f"{box} never checked"


async def include_mch(browser: Browser) -> None:
    await browser.wait_for("document.querySelector('[data-live-include=MCH]')", within=WITHIN)
    await click(browser, "[data-live-include=MCH]")
    await browser.wait_for("document.querySelector('#live-diff')", within=WITHIN)
    assert "MCH" in (await browser.text("#live-diff") or "")
    await click(browser, "#live-confirm")
    await browser.wait_for(
        "document.querySelector('#live-result').textContent.includes('changed by sam')",
        within=WITHIN,
    )


async def stop(browser: Browser) -> None:
    await click(browser, "#action-stop")
    await browser.wait_for("document.querySelector('#confirm').open")
    await click(browser, "#confirm-ok")


async def refused(browser: Browser, path: str, body: dict[str, Any]) -> int:
    status = await browser.evaluate(
        f"fetch({json.dumps(path)}, {{method: 'POST', headers: {{Authorization: "
        f"'Bearer {VIEWER}', 'Content-Type': 'application/json'}}, "
        f"body: {json.dumps(json.dumps(body))}}}).then((r) => r.status)"
    )
    return int(status)


@pytest.mark.usefixtures("cluster", "manager")
async def test_shifter_runs_a_shift_viewer_is_refused_audit_names_the_shifter(
    served: GuiProcess,
    browser: Browser,
    store: EtcdStore,
    etcd_server: EmbeddedEtcd,
) -> None:
    views = Views(store, etcd_server.endpoint)
    await apply_workflow(store)
    await detectors_known(store)
    await create_through_wizard(browser, served)
    for got in await views.both("rd"):
        assert got["spec"]["state"] == "RUNNING"
        assert got["spec"]["vars"]["qc_replicas"] == "2"
        assert json.loads(got["spec"]["vars"]["detectors"]) == ["TPC", "ITS"]

    running = await wait_env(store, reached("RUNNING"), within=WITHIN)
    assert running.status.run_number == 1
    await status_in_page(browser, "RUNNING")
    for got in await views.both("rd"):
        assert (got["status"]["state"], got["status"]["runNumber"]) == ("RUNNING", 1)

    await include_mch(browser)
    for got in await views.both("rd"):
        assert json.loads(got["spec"]["vars"]["detectors"]) == ["TPC", "ITS", "MCH"]
    await wait_env(store, lambda e: "MCH" in e.status.detectors, within=WITHIN)
    for got in await views.both("rd"):
        assert set(got["status"]["detectors"]) == {"TPC", "ITS", "MCH"}

    await stop(browser)
    await wait_env(store, reached("CONFIGURED"), within=WITHIN)
    for got in await views.both("rd"):
        assert (got["spec"]["state"], got["status"]["state"]) == ("CONFIGURED", "CONFIGURED")

    await browser.goto(served.url + "#/runs?env=rd")
    await browser.wait_for("document.querySelector('#runs tr[data-run=\"1\"]')", within=WITHIN)
    await browser.wait_for("document.querySelector('#plot-transitions svg circle')")
    points = await browser.evaluate(
        "[...document.querySelectorAll('#plot-durations svg circle')].length"
    )
    assert points == 1, "one point: run 1"
    (record,) = newest_first(await store.list_raw(log_prefix(store.prefix)))
    logged = views.etcdctl(log_prefix(store.prefix), "--prefix", "--keys-only").split()
    assert logged == [record_key(store.prefix, 1, record.environment_uid)]
    took = {t.event: f"{t.duration_seconds:.1f}s" for t in record.transitions}
    tasks = (await store.get(Environment, "rd")).status.task_total
    assert record.task_count == tasks and tasks >= 3, "a task per detector at least"
    (listed,) = views.cli("rd", kind="runs")["items"]
    assert (listed["runNumber"], listed["taskCount"]) == (1, tasks)
    scaling = await browser.evaluate(
        "[...document.querySelectorAll('#plot-scaling svg circle.point')]"
        ".map((c) => [c.parentNode.dataset.series, c.textContent])"
    )
    assert sorted(scaling) == [
        [s, f"rd, run 1: {s} {took[s]} with {tasks} tasks"]
        for s in ("CONFIGURE", "DEPLOY", "START_ACTIVITY")
    ]

    before = await views.raw("rd")
    wizard_body = {"name": "rd-2", "workflow": "readout-dataflow", "vars": {}, "detectors": []}
    assert await refused(browser, "/api/environments", wizard_body) == 403
    live_body = {"change": "detectors", "remove": ["MCH"], "resourceVersion": "0"}
    assert await refused(browser, "/api/live/rd", live_body) == 403
    assert await refused(browser, "/api/environments/rd/start", {}) == 403  # nor act
    assert (await views.raw("rd"))["spec"] == before["spec"]
    assert [e.name for e in (await store.list(Environment)).items] == ["rd"]

    await browser.goto(served.url + "#/audit")
    await browser.wait_for("document.querySelectorAll('#audit [data-audit]').length >= 3")
    rows = await browser.evaluate(
        "[...document.querySelectorAll('#audit [data-audit]')].map((r) => r.textContent)"
    )
    assert all("sam" in row for row in rows) and len(rows) == 3, rows
    assert any("CREATE" in r for r in rows) and any("STOP" in r for r in rows), rows
