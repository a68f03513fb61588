"""The GUI server against a real etcd: SSE snapshot then deltas, reconnects, guarded actions."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp

from crds.kinds.environment import Environment
from crds.kinds.event import Event
from gui.feed import apply_message
from gui.server import HUB_KEY
from store.etcd import EtcdStore
from tests.gui.conftest import Gui
from tests.gui.samples import environment, task
from tests.gui.sse import events
from tests.waiting import eventually


async def next_event(
    stream: AsyncIterator[tuple[str, dict[str, Any]]],
) -> tuple[str, dict[str, Any]]:
    async with asyncio.timeout(10):
        return await anext(stream)


async def test_browser_gets_snapshot_with_revision_then_delta_after_store_write(
    gui: Gui, etcd_store: EtcdStore
) -> None:
    created = await etcd_store.create(environment("physics-1"))
    informer = gui.app[HUB_KEY].factory.informer(Environment)
    await informer.wait_for_revision(created.metadata.resource_version or 0)
    response = await gui.get("/api/stream")
    assert response.headers["Content-Type"] == "text/event-stream"
    stream = events(response)
    name, snap = await next_event(stream)
    assert name == "snapshot"
    assert snap["revision"] >= (created.metadata.resource_version or 0)
    assert [e["metadata"]["name"] for e in snap["objects"]["environments"]] == ["physics-1"]

    stored = await etcd_store.get(Environment, "physics-1")
    await etcd_store.update_status(
        stored.model_copy(update={"status": stored.status.model_copy(update={"state": "RUNNING"})})
    )
    name, delta = await next_event(stream)
    assert name == "delta"
    (change,) = delta["changes"]
    assert change["op"] == "put" and change["obj"]["status"]["state"] == "RUNNING"
    assert delta["revision"] > snap["revision"]
    response.close()


async def test_task_changes_arrive_as_compact_projections_and_deletions(
    gui: Gui, etcd_store: EtcdStore
) -> None:
    response = await gui.get("/api/stream")
    stream = events(response)
    state: dict[str, dict[str, dict[str, Any]]] = {}
    apply_message(state, *await next_event(stream))
    await etcd_store.create(task("t-1", state="STANDBY"))
    apply_message(state, *await next_event(stream))
    assert state["tasks"]["t-1"]["state"] == "STANDBY"
    assert "command" not in state["tasks"]["t-1"]
    await etcd_store.delete(type(task("x")), "t-1")
    apply_message(state, *await next_event(stream))
    assert "t-1" not in state["tasks"]
    response.close()


async def test_reconnecting_browser_gets_a_fresh_snapshot(gui: Gui, etcd_store: EtcdStore) -> None:
    await etcd_store.create(environment("physics-1"))
    first = await gui.get("/api/stream")
    _, snap1 = await next_event(events(first))
    first.close()
    await etcd_store.create(environment("physics-2"))
    await asyncio.sleep(0)  # let the server notice the closed stream
    second = await gui.get("/api/stream", headers={"Last-Event-ID": str(snap1["seq"])})
    stream = events(second)
    name, snap2 = await next_event(stream)
    while name != "snapshot":  # pragma: no cover - the first event is always the snapshot
        name, snap2 = await next_event(stream)
    names = {e["metadata"]["name"] for e in snap2["objects"]["environments"]}
    if names != {"physics-1", "physics-2"}:  # the create may still be in the flush window
        _, delta = await next_event(stream)
        names |= {c["obj"]["metadata"]["name"] for c in delta["changes"]}
    assert names == {"physics-1", "physics-2"}
    second.close()


async def test_action_without_token_is_refused_and_writes_nothing(
    gui: Gui, etcd_store: EtcdStore
) -> None:
    await etcd_store.create(environment("physics-1"))
    for headers in ({}, {"Authorization": "Bearer not-a-valid-token"}):
        response = await gui.post("/api/environments/physics-1/start", headers=headers)
        assert response.status == 401
        assert "token" in (await response.json())["error"]
    assert (await etcd_store.get(Environment, "physics-1")).spec.state == "STANDBY"
    assert (await etcd_store.list(Event)).items == []


async def test_readonly_server_refuses_every_action(
    readonly_gui: Gui, etcd_store: EtcdStore
) -> None:
    await etcd_store.create(environment("physics-1"))
    response = await readonly_gui.post(
        "/api/environments/physics-1/start", headers={"Authorization": "Bearer alice-token-123"}
    )
    assert response.status == 403
    info = await (await readonly_gui.get("/api/info")).json()
    assert info["actions"] is False
    assert (await etcd_store.get(Environment, "physics-1")).spec.state == "STANDBY"


async def test_start_with_token_writes_spec_state_and_an_event_naming_who_asked(
    gui: Gui, etcd_store: EtcdStore
) -> None:
    await etcd_store.create(environment("physics-1", state="CONFIGURED"))
    response = await gui.post(
        "/api/environments/physics-1/start", headers={"Authorization": "Bearer bob-token-4567"}
    )
    assert response.status == 200, await response.text()
    body = await response.json()
    assert body["who"] == "bob"
    assert (await etcd_store.get(Environment, "physics-1")).spec.state == "RUNNING"
    (event,) = (await etcd_store.list(Event)).items
    assert event.metadata.name.startswith("physics-1-")
    assert event.spec.involved_object.name == "physics-1"
    assert "bob" in event.spec.message and "START" in event.spec.message


async def test_recover_bumps_recover_request(gui: Gui, etcd_store: EtcdStore) -> None:
    await etcd_store.create(environment("physics-1"))
    auth = {"Authorization": "Bearer alice-token-123"}
    for _ in range(2):
        assert (await gui.post("/api/environments/physics-1/recover", headers=auth)).status == 200
    env = await etcd_store.get(Environment, "physics-1")
    assert env.spec.recover_request == 2 and env.spec.state == "STANDBY"


async def test_unknown_environment_or_action_is_404(gui: Gui) -> None:
    auth = {"Authorization": "Bearer alice-token-123"}
    assert (await gui.post("/api/environments/nope/start", headers=auth)).status == 404
    assert (await gui.post("/api/environments/nope/explode", headers=auth)).status == 404


async def test_page_and_modules_are_served_without_etcd_details(
    gui: Gui, etcd_store: EtcdStore
) -> None:
    page = await gui.get("/")
    text = await page.text()
    assert page.status == 200 and "/static/app.js" in text
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    for module in ("app.js", "environments.js", "tables.js", "util.js", "style.css"):
        assert (await gui.get(f"/static/{module}")).status == 200
    info = await (await gui.get("/api/info")).text()
    assert "127.0.0.1" not in info and etcd_store.prefix not in info


async def test_slow_browser_is_dropped_instead_of_buffering_forever(
    gui: Gui, etcd_store: EtcdStore
) -> None:
    hub = gui.app[HUB_KEY]
    aborted: list[bool] = []
    client, _ = hub.subscribe(abort=lambda: aborted.append(True))
    frame = b"data: " + b"x" * 1000 + b"\n\n"
    for _ in range(hub.client_buffer // len(frame) + 1):
        hub.broadcast(frame)
    assert client not in hub.clients
    assert aborted == [True]  # its connection closes even while a write to it is stuck
    assert client.queue.get_nowait() is None  # its handler wakes up and ends the response


async def test_sse_client_disconnect_removes_it(gui: Gui) -> None:
    from gui.server import HUB_KEY

    response = await gui.get("/api/stream")
    await next_event(events(response))
    assert len(gui.app[HUB_KEY].clients) == 1
    response.close()

    def dropped() -> bool:
        gui.app[HUB_KEY].broadcast(b": ping\n\n")  # a write notices the closed socket
        return not gui.app[HUB_KEY].clients

    await eventually(dropped, within=3, interval=0.1, message="the hub to drop the closed client")


__all__ = ["aiohttp"]


async def test_after_the_snapshot_only_changed_objects_are_sent(
    gui: Gui, etcd_store: EtcdStore
) -> None:
    created = [await etcd_store.create(task(f"t-{i}", state="STANDBY")) for i in range(30)]
    await gui.app[HUB_KEY].wait_for_revision(created[-1].metadata.resource_version or 0)
    response = await gui.get("/api/stream")
    stream = events(response)
    _, snap = await next_event(stream)
    assert len(snap["objects"]["tasks"]) == 30
    one = created[7]
    await etcd_store.update_status(
        one.model_copy(update={"status": one.status.model_copy(update={"state": "CONFIGURED"})})
    )
    _, delta = await next_event(stream)
    assert [c["obj"]["name"] for c in delta["changes"]] == ["t-7"]
    response.close()
