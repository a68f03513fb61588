"""Live changes of a RUNNING environment through the GUI's API, against a real etcd: the
preview diff, the one compare-and-swap write, the conflict path, roles and field errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from crds.kinds.environment import Environment
from store.etcd import EtcdStore
from tests.gui.conftest import Gui
from tests.gui.control_world import SHIFTER, VIEWER, build, events_of, roles_gui

EXCLUDE_ITS = {"change": "detectors", "remove": ["ITS"]}


@pytest.fixture
async def gui(etcd_store: EtcdStore) -> AsyncIterator[Gui]:
    await build(etcd_store)
    async with roles_gui(etcd_store) as client:
        yield client


async def post(gui: Gui, path: str, body: dict[str, Any], headers: dict[str, str]) -> Any:
    response = await gui.post(path, json=body, headers=headers)
    return response.status, await response.json()


async def test_offer_lists_detectors_variables_and_scalable_roles(gui: Gui) -> None:
    body = await (await gui.get("/api/live/physics-1")).json()
    assert body["detectors"] == ["TPC", "ITS"]
    assert {d["name"]: d["heldBy"] for d in body["inventory"]}["MCH"] == "mch-1"
    assert body["variables"]["n_flp"]["value"] == "1"
    assert body["scalable"] == [{"role": "qc", "variable": "qc_replicas", "replicas": "1"}]
    assert body["reconfigure"] == "NextRun"


async def test_preview_returns_the_spec_diff_and_writes_nothing(
    gui: Gui, etcd_store: EtcdStore
) -> None:
    before = await etcd_store.get(Environment, "physics-1")
    status, body = await post(gui, "/api/live/physics-1/preview", EXCLUDE_ITS, SHIFTER)
    assert status == 200, body
    assert body["resourceVersion"] == before.metadata.resource_version
    assert '-  detectors: \'["TPC","ITS"]\'' in body["diff"]
    assert "+  detectors: '[\"TPC\"]'" in body["diff"]
    assert body["diff"].startswith("--- environment/physics-1 (live)")
    after = await etcd_store.get(Environment, "physics-1")
    assert after.metadata.resource_version == before.metadata.resource_version


async def test_confirmed_change_is_one_write_at_the_previewed_version_with_an_event(
    gui: Gui, etcd_store: EtcdStore
) -> None:
    _, preview = await post(gui, "/api/live/physics-1/preview", EXCLUDE_ITS, SHIFTER)
    revision = (await etcd_store.list(Environment)).revision
    body = {**EXCLUDE_ITS, "resourceVersion": preview["resourceVersion"]}
    status, answer = await post(gui, "/api/live/physics-1", body, SHIFTER)
    assert status == 200, answer
    env = await etcd_store.get(Environment, "physics-1")
    assert env.spec.vars["detectors"] == '["TPC"]'
    assert env.metadata.resource_version == revision + 1, "the first and only write"
    assert answer["diff"] == preview["diff"] and answer["who"] == "sam"
    (event,) = await events_of(etcd_store, "physics-1")
    assert event.spec.message.startswith("sam asked to CHANGE from the GUI (detectors -ITS)")


async def test_a_write_in_between_is_a_conflict_and_nothing_is_written(
    gui: Gui, etcd_store: EtcdStore
) -> None:
    _, preview = await post(gui, "/api/live/physics-1/preview", EXCLUDE_ITS, SHIFTER)
    env = await etcd_store.get(Environment, "physics-1")
    spec = env.spec.model_copy(update={"vars": {**env.spec.vars, "comment": "meanwhile"}})
    await etcd_store.update(env.model_copy(update={"spec": spec}))
    body = {**EXCLUDE_ITS, "resourceVersion": preview["resourceVersion"]}
    status, answer = await post(gui, "/api/live/physics-1", body, SHIFTER)
    assert status == 409
    assert "changed meanwhile" in answer["error"]
    assert (await etcd_store.get(Environment, "physics-1")).spec.vars["detectors"] == (
        '["TPC","ITS"]'
    )
    assert await events_of(etcd_store, "physics-1") == []


async def test_viewer_may_look_but_not_preview_or_change(gui: Gui, etcd_store: EtcdStore) -> None:
    before = await etcd_store.get(Environment, "physics-1")
    assert (await gui.get("/api/live/physics-1", headers=VIEWER)).status == 200
    for path in ("/api/live/physics-1/preview", "/api/live/physics-1"):
        body = {**EXCLUDE_ITS, "resourceVersion": before.metadata.resource_version}
        status, answer = await post(gui, path, body, VIEWER)
        assert status == 403 and "viewer" in answer["error"]
    after = await etcd_store.get(Environment, "physics-1")
    assert after.metadata.resource_version == before.metadata.resource_version


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"change": "vars", "set": {"n_flp": "many"}}, "n_flp", "expected number"),
        ({"change": "detectors", "add": ["MCH"]}, "detectors", "held by environment 'mch-1'"),
        ({"change": "scale", "role": "fixed", "replicas": 3}, "role", "cannot be scaled"),
        ({"change": "scale", "role": "qc", "replicas": -1}, "replicas", "from 0 to"),
        ({"change": "vars", "reconfigure": "Later"}, "reconfigure", "NextRun, Now"),
    ],
)
async def test_refused_change_names_the_field_and_writes_nothing(
    gui: Gui, etcd_store: EtcdStore, change: dict[str, Any], field: str, words: str
) -> None:
    version = (await etcd_store.get(Environment, "physics-1")).metadata.resource_version
    for path in ("/api/live/physics-1/preview", "/api/live/physics-1"):
        status, answer = await post(gui, path, {**change, "resourceVersion": version}, SHIFTER)
        assert status == 422, answer
        assert words in answer["fields"][field]
    after = await etcd_store.get(Environment, "physics-1")
    assert after.metadata.resource_version == version


async def test_scale_and_variable_change_now(gui: Gui, etcd_store: EtcdStore) -> None:
    version = (await etcd_store.get(Environment, "physics-1")).metadata.resource_version
    scale = {"change": "scale", "role": "qc", "replicas": 3, "resourceVersion": version}
    status, answer = await post(gui, "/api/live/physics-1", scale, SHIFTER)
    assert status == 200, answer
    assert "+  qc_replicas: '3'" in answer["diff"]
    change = {
        "change": "vars",
        "set": {"trg_mode": "triggered"},
        "reconfigure": "Now",
        "resourceVersion": answer["resourceVersion"],
    }
    status, answer = await post(gui, "/api/live/physics-1", change, SHIFTER)
    assert status == 200, answer
    env = await etcd_store.get(Environment, "physics-1")
    assert (env.spec.vars["qc_replicas"], env.spec.vars["trg_mode"]) == ("3", "triggered")
    assert env.spec.reconfigure == "Now"
