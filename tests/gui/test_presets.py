"""Wizard presets through the GUI's API, kept under runtime/gui/presets/ in a real etcd."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from crds.presets import preset_key
from gui.presets import NotYoursError, save_preset
from store.etcd import EtcdStore
from tests.gui.conftest import Gui
from tests.gui.control_world import ADMIN, OTHER_SHIFTER, SHIFTER, VIEWER, build, roles_gui

TPC = {
    "vars": {"n_flp": "2", "comment": "", "roc_ctp_emu_enabled": "true", "trg_mode": "triggered"},
    "detectors": ["TPC"],
}
URL = "/api/presets/readout-dataflow"


@pytest.fixture
async def gui(etcd_store: EtcdStore) -> AsyncIterator[Gui]:
    await build(etcd_store)
    async with roles_gui(etcd_store) as client:
        yield client


async def listed(gui: Gui) -> list[dict[str, Any]]:
    body = await (await gui.get(URL, headers=VIEWER)).json()
    return list(body["presets"])


async def test_saved_preset_is_listed_with_its_values_and_kept_in_etcd(
    gui: Gui, etcd_store: EtcdStore
) -> None:
    response = await gui.put(f"{URL}/TPC physics", json=TPC, headers=SHIFTER)
    assert response.status == 201, await response.text()
    (preset,) = await listed(gui)
    assert (preset["name"], preset["savedBy"]) == ("TPC physics", "sam")
    assert (preset["values"], preset["detectors"]) == (TPC["vars"], TPC["detectors"])
    raw = await etcd_store.get_raw(preset_key(etcd_store.prefix, "readout-dataflow", "TPC physics"))
    assert raw is not None and json.loads(raw.value)["values"]["n_flp"] == "2"
    assert f"{etcd_store.prefix}/runtime/gui/presets/readout-dataflow/TPC physics" == (
        preset_key(etcd_store.prefix, "readout-dataflow", "TPC physics")
    )


async def test_saving_again_overwrites_and_delete_removes(gui: Gui) -> None:
    await gui.put(f"{URL}/TPC physics", json=TPC, headers=SHIFTER)
    await gui.put(f"{URL}/TPC physics", json={**TPC, "detectors": ["ITS"]}, headers=SHIFTER)
    await gui.put(f"{URL}/cosmics", json=TPC, headers=SHIFTER)
    assert [(p["name"], p["detectors"]) for p in await listed(gui)] == [
        ("cosmics", ["TPC"]),
        ("TPC physics", ["ITS"]),
    ]
    assert (await gui.delete(f"{URL}/cosmics", headers=SHIFTER)).status == 200
    assert [p["name"] for p in await listed(gui)] == ["TPC physics"]
    assert (await gui.delete(f"{URL}/cosmics", headers=SHIFTER)).status == 404


async def test_viewer_reads_presets_but_cannot_save_or_delete(gui: Gui) -> None:
    await gui.put(f"{URL}/TPC physics", json=TPC, headers=SHIFTER)
    assert (await gui.put(f"{URL}/mine", json=TPC, headers=VIEWER)).status == 403
    assert (await gui.delete(f"{URL}/TPC physics", headers=VIEWER)).status == 403
    assert [p["name"] for p in await listed(gui)] == ["TPC physics"]


async def test_a_shifter_changes_only_their_own_presets_an_admin_anyones(
    gui: Gui, etcd_store: EtcdStore
) -> None:
    await gui.put(f"{URL}/TPC physics", json=TPC, headers=SHIFTER)
    key = preset_key(etcd_store.prefix, "readout-dataflow", "TPC physics")
    before = await etcd_store.get_raw(key)
    other = {**TPC, "detectors": ["ITS"]}
    refused = await gui.put(f"{URL}/TPC physics", json=other, headers=OTHER_SHIFTER)
    assert refused.status == 403
    assert "saved by sam" in (await refused.json())["error"]
    assert (await gui.delete(f"{URL}/TPC physics", headers=OTHER_SHIFTER)).status == 403
    after = await etcd_store.get_raw(key)
    assert after is not None and before is not None
    assert after.mod_revision == before.mod_revision, "nothing written"
    assert (await gui.put(f"{URL}/TPC physics", json=other, headers=ADMIN)).status == 201
    (preset,) = await listed(gui)
    assert (preset["savedBy"], preset["detectors"]) == ("ada", ["ITS"])
    assert (await gui.delete(f"{URL}/TPC physics", headers=SHIFTER)).status == 403
    assert (await gui.delete(f"{URL}/TPC physics", headers=ADMIN)).status == 200
    assert await listed(gui) == []


@pytest.mark.parametrize(
    ("path", "body", "field", "words"),
    [
        (f"{URL}/bad", {"vars": {"n_flp": "many"}}, "n_flp", "expected number"),
        (f"{URL}/ bad", TPC, "name", "preset name"),
        ("/api/presets/nowhere/x", TPC, "workflow", "no Workflow 'nowhere'"),
    ],
)
async def test_refused_preset_names_the_field(
    gui: Gui, path: str, body: dict[str, Any], field: str, words: str
) -> None:
    response = await gui.put(path, json=body, headers=SHIFTER)
    assert response.status == 422
    assert words in (await response.json())["fields"][field]
    assert await listed(gui) == []


class RacingStore:
    """The test's etcd store, except that right after the first read of `key` another shifter
    saves their own preset there: the moment between the owner check and the write."""

    def __init__(self, store: EtcdStore, key: str, theirs: bytes) -> None:
        self.store, self.key, self.theirs, self.raced = store, key, theirs, False
        self.prefix = store.prefix

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    async def get_raw(self, key: str) -> Any:
        raw = await self.store.get_raw(key)
        if key == self.key and not self.raced:
            self.raced = True
            await self.store.put_raw(key, self.theirs)
        return raw


async def test_a_preset_saved_by_someone_else_meanwhile_is_never_overwritten(
    gui: Gui, etcd_store: EtcdStore
) -> None:
    """Regression: the owner was checked on one read and the preset written blindly after it,
    so a preset another shifter saved in between was overwritten."""
    await gui.put(f"{URL}/TPC physics", json=TPC, headers=SHIFTER)  # sam's own preset
    key = preset_key(etcd_store.prefix, "readout-dataflow", "TPC physics")
    mine = await etcd_store.get_raw(key)
    assert mine is not None
    theirs = json.loads(mine.value) | {"savedBy": "tom", "detectors": ["MCH"]}
    racing = RacingStore(etcd_store, key, json.dumps(theirs).encode())
    with pytest.raises(NotYoursError, match="saved by tom"):
        await save_preset(racing, "readout-dataflow", "TPC physics", TPC, who="sam")  # type: ignore[arg-type]
    kept = await etcd_store.get_raw(key)
    assert kept is not None and json.loads(kept.value)["detectors"] == ["MCH"]
