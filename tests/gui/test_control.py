"""Node actions, node detail and the audit view over HTTP, on a real etcd store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from crds.changedby import changed_by
from crds.kinds.environment import Environment
from crds.kinds.event import Event
from crds.kinds.node import Node
from crds.kinds.task import Task
from crds.meta import OwnerReference
from gui.auth import Tokens, TrustedHeader, hash_token, parse_proxy, parse_tokens, parse_users
from gui.server import make_app
from store.etcd import EtcdStore
from tests.gui.conftest import TOKENS, Gui
from tests.gui.control_world import ADMIN, SHIFTER, roles_gui
from tests.gui.samples import detector_node, environment, task

ALICE = {"Authorization": "Bearer alice-token-123"}
VERA = {"Authorization": "Bearer vera-viewer-token"}


@pytest.fixture
def tokens() -> Tokens:
    return parse_tokens(TOKENS).merged(
        parse_users(f"vera:viewer:{hash_token('vera-viewer-token')}")
    )


@pytest.fixture
async def flp(etcd_store: EtcdStore) -> Node:
    """flp1 with a task of physics-1, a pilot, an idle standalone task and one elsewhere."""
    node = await etcd_store.create(detector_node("flp1", "TPC"))
    await etcd_store.create(environment())
    placed = {
        "physics-1-readout": ("flp1.cern.ch", None),
        "pilot-flp1": ("flp1.cern.ch", "node"),
        "loose-1": ("flp1.cern.ch", ""),
        "elsewhere": ("flp2.cern.ch", None),
    }
    for name, (host, owner) in placed.items():
        t = task(name)
        if owner is not None:
            t = t.model_copy(update={"spec": t.spec.model_copy(update={"environment": None})})
        if owner == "node":
            ref = OwnerReference(kind="Node", name="flp1", uid=node.metadata.uid)
            t = t.model_copy(
                update={"metadata": t.metadata.model_copy(update={"owner_references": (ref,)})}
            )
        created = await etcd_store.create(t)
        status = created.status.model_copy(update={"hostname": host})
        await etcd_store.update_status(created.model_copy(update={"status": status}))
    return node


@asynccontextmanager
async def serving(app: web.Application) -> AsyncIterator[Gui]:
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()


async def events_about(store: EtcdStore, name: str) -> list[Event]:
    items = (await store.list(Event)).items
    return [e for e in items if e.spec.involved_object.name == name]


@pytest.mark.usefixtures("flp")
async def test_plain_token_holder_cordons_a_node_naming_themselves(
    gui: Gui, etcd_store: EtcdStore
) -> None:
    response = await gui.post("/api/nodes/flp1/cordon", headers=ALICE)
    assert response.status == 200, await response.text()
    body = await response.json()
    assert (body["who"], body["action"]) == ("alice", "cordon")
    node = await etcd_store.get(Node, "flp1")
    assert node.spec.unschedulable and changed_by(node) == "alice"
    (event,) = await events_about(etcd_store, "flp1")
    assert event.spec.involved_object.kind == "Node" and "alice" in event.spec.message
    response = await gui.post("/api/nodes/flp1/uncordon", headers=ALICE)
    assert not (await etcd_store.get(Node, "flp1")).spec.unschedulable


@pytest.mark.usefixtures("flp")
async def test_viewer_and_stranger_cannot_act_and_nothing_is_written(
    gui: Gui, etcd_store: EtcdStore
) -> None:
    before = await etcd_store.get(Node, "flp1")
    assert (await gui.post("/api/nodes/flp1/cordon", headers=VERA)).status == 403
    assert (await gui.post("/api/nodes/flp1/async")).status == 401
    forged = {"X-Remote-User": "alice", "X-Forwarded-User": "alice"}
    assert (await gui.post("/api/nodes/flp1/cordon", headers=forged)).status == 401
    assert (await gui.get("/api/whoami", headers=forged)).status == 401
    after = await etcd_store.get(Node, "flp1")
    assert after.metadata.resource_version == before.metadata.resource_version
    assert await events_about(etcd_store, "flp1") == []


@pytest.mark.usefixtures("flp")
async def test_drain_cordons_and_deletes_only_standalone_tasks_when_asked(
    gui: Gui, etcd_store: EtcdStore
) -> None:
    response = await gui.post("/api/nodes/flp1/drain", headers=ALICE, json={})
    body = await response.json()
    actions = {s["task"]: s["action"] for s in body["steps"]}
    assert set(actions) == {"physics-1-readout", "pilot-flp1", "loose-1"}
    assert body["deleted"] == [] and (await etcd_store.get(Node, "flp1")).spec.unschedulable
    response = await gui.post(
        "/api/nodes/flp1/drain", headers=ALICE, json={"deleteStandalone": True}
    )
    assert (await response.json())["deleted"] == ["loose-1"]
    left = {t.metadata.name for t in (await etcd_store.list(Task)).items}
    assert "physics-1-readout" in left and "pilot-flp1" in left


@pytest.mark.usefixtures("flp")
async def test_mode_switch_and_node_detail_with_its_tasks(gui: Gui, etcd_store: EtcdStore) -> None:
    assert (await gui.post("/api/nodes/flp1/async", headers=ALICE)).status == 200
    assert (await etcd_store.get(Node, "flp1")).spec.mode == "async"
    detail = await (await gui.get("/api/nodes/flp1")).json()
    assert detail["node"]["spec"]["mode"] == "async"
    owners = {t["name"]: t["owner"] for t in detail["tasks"]}
    assert owners == {
        "loose-1": "<standalone>",
        "physics-1-readout": "environment/physics-1",
        "pilot-flp1": "node/flp1",
    }
    assert (await gui.get("/api/nodes/nope")).status == 404
    assert (await gui.post("/api/nodes/nope/cordon", headers=ALICE)).status == 404
    assert (await gui.post("/api/nodes/flp1/explode", headers=ALICE)).status == 404


@pytest.mark.usefixtures("flp")
async def test_audit_lists_each_action_with_its_user_newest_first(
    gui: Gui, etcd_store: EtcdStore
) -> None:
    await gui.post("/api/nodes/flp1/cordon", headers=ALICE)
    await gui.post(
        "/api/environments/physics-1/deploy", headers={"Authorization": "Bearer bob-token-4567"}
    )
    await gui.post("/api/nodes/flp1/uncordon", headers=ALICE)
    entries = (await (await gui.get("/api/audit")).json())["entries"]
    assert [(e["user"], e["object"]) for e in entries] == [
        ("alice", "node/flp1"),
        ("bob", "environment/physics-1"),
        ("alice", "node/flp1"),
    ]
    assert "UNCORDON" in entries[0]["message"]
    by_bob = (await (await gui.get("/api/audit?user=bob")).json())["entries"]
    assert [e["object"] for e in by_bob] == ["environment/physics-1"]
    on_node = (await (await gui.get("/api/audit?object=node/flp1")).json())["entries"]
    assert {e["user"] for e in on_node} == {"alice"} and len(on_node) == 2
    env = await etcd_store.get(Environment, "physics-1")
    assert changed_by(env) == "bob"  # the spec write names its user, for the run log


async def test_header_sign_in_takes_the_role_from_the_users_file(
    etcd_store: EtcdStore,
) -> None:
    await etcd_store.create(detector_node("flp1", "TPC"))
    users = parse_users(f"ada:admin\nsam:shifter\nvera:viewer:{hash_token('vera-viewer-token')}\n")
    sso = TrustedHeader("X-Remote-User", users.roles, "viewer")
    app = make_app(etcd_store, tokens=users, sso=sso, flush_interval=0.02)
    async with serving(app) as client:
        assert (await client.get("/api/info")).status == 401, "no header, no token: refused"
        assert (await client.get("/api/audit")).status == 401
        me = await (await client.get("/api/whoami", headers={"X-Remote-User": "sam"})).json()
        assert me == {"name": "sam", "role": "shifter", "mayAct": True, "mayAdmin": False}
        stranger = {"X-Remote-User": "mallory"}
        assert (await (await client.get("/api/whoami", headers=stranger)).json())[
            "role"
        ] == "viewer"
        assert (await client.post("/api/nodes/flp1/cordon", headers=stranger)).status == 403
        sam = {"X-Remote-User": "sam"}
        assert (await client.post("/api/nodes/flp1/cordon", headers=sam)).status == 403
        ok = await client.post("/api/nodes/flp1/cordon", headers={"X-Remote-User": "ada"})
        assert (await ok.json())["who"] == "ada"
        assert (await client.get("/api/info", headers=VERA)).status == 200, "tokens still work"
        assert (await client.post("/api/nodes/flp1/uncordon", headers=VERA)).status == 403


@pytest.mark.usefixtures("flp")
@pytest.mark.parametrize("verb", ["cordon", "uncordon", "drain", "sync", "async"])
async def test_a_shifter_may_not_operate_nodes_an_admin_may(
    etcd_store: EtcdStore, verb: str
) -> None:
    before = await etcd_store.get(Node, "flp1")
    async with roles_gui(etcd_store) as client:
        refused = await client.post(
            f"/api/nodes/flp1/{verb}", headers=SHIFTER, json={"deleteStandalone": True}
        )
        assert refused.status == 403
        assert "only admins" in (await refused.json())["error"]
        after = await etcd_store.get(Node, "flp1")
        assert after.metadata.resource_version == before.metadata.resource_version
        assert await events_about(etcd_store, "flp1") == []
        assert len((await etcd_store.list(Task)).items) == 4, "no task deleted"
        done = await client.post(f"/api/nodes/flp1/{verb}", headers=ADMIN, json={})
        assert done.status == 200 and (await done.json())["who"] == "ada"


@pytest.mark.usefixtures("flp")
async def test_the_user_header_from_an_untrusted_peer_is_ignored_and_logged_once(
    etcd_store: EtcdStore, caplog: pytest.LogCaptureFixture
) -> None:
    """The test client connects from 127.0.0.1: a proxy configured elsewhere makes it a
    stranger whose header names nobody (and the token still works)."""
    users = parse_users(f"ada:admin\nvera:viewer:{hash_token('vera-viewer-token')}\n")
    sso = TrustedHeader("X-Remote-User", users.roles, "viewer", (parse_proxy("10.0.0.0/24"),))
    before = await etcd_store.get(Node, "flp1")
    forged = {"X-Remote-User": "ada"}
    async with serving(make_app(etcd_store, tokens=users, sso=sso, flush_interval=0.02)) as gui:
        assert (await gui.get("/api/whoami", headers=forged)).status == 401
        assert (await gui.post("/api/nodes/flp1/cordon", headers=forged)).status == 401
        assert (await gui.get("/api/info", headers=forged)).status == 401
        me = await (await gui.get("/api/whoami", headers={**forged, **VERA})).json()
        assert me["name"] == "vera", "the token counts, the header does not"
    after = await etcd_store.get(Node, "flp1")
    assert after.metadata.resource_version == before.metadata.resource_version
    warned = [r for r in caplog.records if "not a trusted proxy" in r.getMessage()]
    assert len(warned) == 1 and getattr(warned[0], "peer", None) == "127.0.0.1"
