"""The new-environment wizard's API against a real etcd, and roles on every write."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from crds.changedby import changed_by
from crds.kinds.environment import Environment
from crds.kinds.event import Event
from gui.auth import hash_token, parse_tokens, parse_users
from gui.server import make_app
from store.etcd import EtcdStore
from tests.gui.conftest import TOKENS, Gui
from tests.gui.samples import detector_node, environment, workflow

ALICE = {"Authorization": "Bearer alice-token-123"}
VIEWER = {"Authorization": "Bearer vera-viewer-token"}
SHIFTER = {"Authorization": "Bearer sam-shifter-token"}
USERS = (
    f"vera:viewer:{hash_token('vera-viewer-token')}\n"
    f"sam:shifter:{hash_token('sam-shifter-token')}\n"
)


@pytest.fixture
async def inventory(etcd_store: EtcdStore) -> None:
    """readout-dataflow (public), a private workflow, TPC/ITS/MCH nodes; MCH held by mch-1."""
    await etcd_store.create(workflow())
    private = workflow(public=False)
    await etcd_store.create(
        private.model_copy(update={"metadata": private.metadata.model_copy(update={"name": "a"})})
    )
    for name, detector in (("flp1", "TPC"), ("flp2", "TPC"), ("flp3", "ITS"), ("flp4", "MCH")):
        await etcd_store.create(detector_node(name, detector))
    held = await etcd_store.create(environment("mch-1"))
    status = held.status.model_copy(update={"state": "RUNNING", "detectors": ("MCH",)})
    await etcd_store.update_status(held.model_copy(update={"status": status}))


@pytest.fixture
async def roles_gui(etcd_store: EtcdStore) -> AsyncIterator[Gui]:
    tokens = parse_tokens(TOKENS).merged(parse_users(USERS))
    client = TestClient(TestServer(make_app(etcd_store, tokens=tokens, flush_interval=0.02)))
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()


def form(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "physics-1",
        "workflow": "readout-dataflow",
        "vars": {
            "n_flp": "1",
            "comment": "",
            "roc_ctp_emu_enabled": "true",
            "trg_mode": "continuous",
        },
        "detectors": ["TPC", "ITS"],
        "state": "RUNNING",
    }
    return {**base, **changes}


async def events_of(store: EtcdStore, env: str) -> list[Event]:
    return [e for e in (await store.list(Event)).items if e.spec.involved_object.name == env]


@pytest.mark.usefixtures("inventory")
async def test_offer_lists_public_workflows_first_with_source_and_detector_holders(
    gui: Gui,
) -> None:
    body = await (await gui.get("/api/wizard")).json()
    assert [w["name"] for w in body["workflows"]] == ["readout-dataflow", "a"]
    first = body["workflows"][0]
    assert (first["gitsource"], first["commit"]) == ("controlworkflows", "0a1b2c3d")
    assert first["variables"]["trg_mode"]["values"] == ["continuous", "triggered"]
    assert first["variables"]["n_flp"]["value"] == "1"
    assert body["detectors"] == [
        {"name": "ITS", "hosts": ["flp3.cern.ch"], "heldBy": ""},
        {"name": "MCH", "hosts": ["flp4.cern.ch"], "heldBy": "mch-1"},
        {"name": "TPC", "hosts": ["flp1.cern.ch", "flp2.cern.ch"], "heldBy": ""},
    ]


@pytest.mark.usefixtures("inventory")
async def test_create_writes_changed_values_and_detectors_and_an_event_naming_the_user(
    gui: Gui, etcd_store: EtcdStore
) -> None:
    response = await gui.post("/api/environments", json=form(), headers=ALICE)
    assert response.status == 201, await response.text()
    env = await etcd_store.get(Environment, "physics-1")
    assert env.spec.state == "RUNNING"
    assert env.spec.vars == {"roc_ctp_emu_enabled": "true", "detectors": '["TPC","ITS"]'}
    (event,) = await events_of(etcd_store, "physics-1")
    assert event.spec.message.startswith("alice asked to CREATE")
    assert changed_by(env) == "alice"  # who started its first run, for the run log


@pytest.mark.usefixtures("inventory")
async def test_workflow_declaring_hosts_gets_the_detectors_nodes(
    gui: Gui, etcd_store: EtcdStore
) -> None:
    wf = await etcd_store.get(type(workflow()), "a")
    spec = wf.spec.model_copy(update={"defaults": {**wf.spec.defaults, "hosts": "[]"}})
    await etcd_store.update(wf.model_copy(update={"spec": spec}))
    response = await gui.post("/api/environments", json=form(workflow="a"), headers=ALICE)
    assert response.status == 201, await response.text()
    env = await etcd_store.get(Environment, "physics-1")
    assert env.spec.vars["hosts"] == '["flp1.cern.ch","flp2.cern.ch","flp3.cern.ch"]'
    assert "detectors" not in env.spec.vars


@pytest.mark.usefixtures("inventory")
@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"vars": {"n_flp": "many"}}, "n_flp", "expected number"),
        ({"vars": {"trg_mode": "sometimes"}}, "trg_mode", "not allowed"),
        ({"detectors": ["MCH"]}, "detectors", "held by environment 'mch-1'"),
        ({"detectors": ["ZDC"]}, "detectors", "no node reads out"),
        ({"workflow": "nope"}, "workflow", "no Workflow"),
        ({"name": "Not A Name"}, "name", ""),
    ],
)
async def test_refused_form_names_the_field_and_writes_nothing(
    gui: Gui, etcd_store: EtcdStore, changes: dict[str, Any], field: str, words: str
) -> None:
    response = await gui.post("/api/environments", json=form(**changes), headers=ALICE)
    assert response.status == 422
    body = await response.json()
    assert words in body["fields"][field]
    assert [e.name for e in (await etcd_store.list(Environment)).items] == ["mch-1"]


@pytest.mark.usefixtures("inventory")
async def test_existing_name_is_a_conflict_on_the_name_field(gui: Gui) -> None:
    response = await gui.post("/api/environments", json=form(name="mch-1"), headers=ALICE)
    assert response.status == 409
    assert "already exists" in (await response.json())["fields"]["name"]


@pytest.mark.usefixtures("inventory")
async def test_viewer_can_neither_create_nor_act_and_nothing_is_written(
    roles_gui: Gui, etcd_store: EtcdStore
) -> None:
    before = (await etcd_store.list(Environment)).revision
    created = await roles_gui.post("/api/environments", json=form(), headers=VIEWER)
    acted = await roles_gui.post("/api/environments/mch-1/stop", headers=VIEWER)
    assert (created.status, acted.status) == (403, 403)
    assert "vera is a viewer" in (await acted.json())["error"]
    assert (await etcd_store.list(Environment)).revision == before
    assert await events_of(etcd_store, "mch-1") == []
    who = await (await roles_gui.get("/api/whoami", headers=VIEWER)).json()
    assert who == {"name": "vera", "role": "viewer", "mayAct": False, "mayAdmin": False}


@pytest.mark.usefixtures("inventory")
async def test_shifter_creates_and_acts_and_each_event_names_them(
    roles_gui: Gui, etcd_store: EtcdStore
) -> None:
    created = await roles_gui.post("/api/environments", json=form(), headers=SHIFTER)
    acted = await roles_gui.post("/api/environments/physics-1/stop", headers=SHIFTER)
    assert (created.status, acted.status) == (201, 200)
    messages = sorted(e.spec.message for e in await events_of(etcd_store, "physics-1"))
    assert [m.split(" asked to ")[0] for m in messages] == ["sam", "sam"]
    assert (await etcd_store.get(Environment, "physics-1")).spec.state == "CONFIGURED"
