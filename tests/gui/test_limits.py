"""The GUI's limits against a real etcd: client cap, shared snapshot, slow-client drop, Host
check and read tokens."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from gui.auth import Tokens, parse_tokens
from gui.feed import sse_frame
from gui.guard import HostPolicy
from gui.server import HUB_KEY, make_app
from store.etcd import EtcdStore
from tests.gui.conftest import Gui
from tests.gui.samples import environment
from tests.gui.sse import events
from tests.waiting import eventually

Factory = Callable[..., Any]


@pytest.fixture
async def make_gui(etcd_store: EtcdStore) -> AsyncIterator[Factory]:
    """Start GUIs with given options on the test's etcd; all closed at the end."""
    started: list[Gui] = []

    async def start(**options: Any) -> Gui:
        client = TestClient(TestServer(make_app(etcd_store, flush_interval=0.02, **options)))
        await client.start_server()
        started.append(client)
        return client

    yield start
    for client in started:
        await client.close()


async def first_event(gui: Gui, **headers: str) -> tuple[Any, str]:
    response = await gui.get("/api/stream", headers=headers)
    assert response.status == 200, await response.text()
    async with asyncio.timeout(10):
        name, _ = await anext(events(response))
    return response, name


async def test_clients_beyond_the_cap_get_a_clear_503(make_gui: Factory) -> None:
    gui = await make_gui(max_clients=2)
    for _ in range(2):
        await first_event(gui)
    refused = await gui.get("/api/stream")
    assert refused.status == 503
    assert "--max-clients" in (await refused.json())["error"]
    assert (await gui.get("/api/info")).status == 200  # the rest of the GUI still answers


async def test_one_snapshot_encoding_is_shared_by_all_clients_at_one_revision(
    make_gui: Factory, etcd_store: EtcdStore
) -> None:
    await etcd_store.create(environment("shared-1"))
    gui = await make_gui()
    hub = gui.app[HUB_KEY]
    await hub.wait_synced()
    await eventually(lambda: hub.feed.count("environments") == 1 and not hub.feed.pending)
    before = hub.snapshot_encodes
    for _ in range(5):
        await first_event(gui)
    assert hub.snapshot_encodes - before == 1


async def raw_stream(gui: Gui) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A browser that asks for the stream and then never reads."""
    assert gui.server.port is not None
    reader, writer = await asyncio.open_connection("127.0.0.1", gui.server.port)
    host = f"127.0.0.1:{gui.server.port}"
    writer.write(f"GET /api/stream HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    await writer.drain()
    return reader, writer


async def test_a_never_reading_client_is_cut_off_while_a_reading_one_keeps_up(
    make_gui: Factory,
) -> None:
    gui = await make_gui(client_buffer=1024 * 1024)
    hub = gui.app[HUB_KEY]
    reader, writer = await raw_stream(gui)
    await eventually(lambda: len(hub.clients) == 1, message="the stalled client to subscribe")
    (stalled,) = hub.clients
    response = await gui.get("/api/stream")
    feed = events(response)
    await anext(feed)
    payload = "x" * 256 * 1024
    for seq in range(1, 400):  # 100 MiB at most: far beyond any socket buffer
        hub.broadcast(sse_frame("delta", {"seq": seq, "changes": [], "pad": payload}))
        async with asyncio.timeout(10):
            _, message = await anext(feed)
        assert message["seq"] == seq
        if stalled not in hub.clients:
            break
    assert stalled not in hub.clients and len(hub.clients) == 1
    with pytest.raises(ConnectionError):  # the stalled connection is closed, not left hanging
        async with asyncio.timeout(10):
            while await reader.read(1 << 20):
                pass
            raise ConnectionResetError("closed")
    writer.close()


async def test_a_client_taking_nothing_for_the_write_timeout_is_dropped(
    make_gui: Factory,
) -> None:
    gui = await make_gui(write_timeout=0.5)
    hub = gui.app[HUB_KEY]
    _, writer = await raw_stream(gui)
    await eventually(lambda: len(hub.clients) == 1)
    for seq in range(40):  # 10 MiB: more than the kernel buffers, so a write stalls
        hub.broadcast(sse_frame("delta", {"seq": seq, "changes": [], "pad": "x" * 256 * 1024}))
    await eventually(lambda: not hub.clients, within=10, message="the stalled client to go")
    writer.close()


@pytest.mark.parametrize("host", ["evil.example", "evil.example:{port}", "localhost:1"])
async def test_foreign_host_gets_421(make_gui: Factory, host: str) -> None:
    gui = await make_gui()
    for path in ("/", "/api/info", "/api/stream"):
        response = await gui.get(path, headers={"Host": host.format(port=gui.server.port)})
        assert response.status == 421, path


@pytest.mark.parametrize("name", ["127.0.0.1", "localhost", "[::1]"])
async def test_loopback_host_on_the_served_port_passes(make_gui: Factory, name: str) -> None:
    gui = await make_gui()
    response = await gui.get("/api/info", headers={"Host": f"{name}:{gui.server.port}"})
    assert response.status == 200


async def test_public_name_passes_and_foreign_origin_gets_421(make_gui: Factory) -> None:
    gui = await make_gui(policy=HostPolicy.build(public_names=("o2.example.org",)))
    assert (await gui.get("/api/info", headers={"Host": "o2.example.org"})).status == 200
    post = await gui.post("/api/environments/x/start", headers={"Origin": "http://evil.example"})
    assert post.status == 421
    ok = await gui.get("/api/info", headers={"Origin": f"http://localhost:{gui.server.port}"})
    assert ok.status == 200


READERS = "carol:carol-read-token\n"


async def test_read_token_guards_the_api_but_not_the_page(
    make_gui: Factory, tokens: Tokens
) -> None:
    gui = await make_gui(tokens=tokens, read_tokens=parse_tokens(READERS))
    assert (await gui.get("/")).status == 200
    assert (await gui.get("/static/app.js")).status == 200
    for path in ("/api/info", "/api/stream"):
        refused = await gui.get(path)
        assert refused.status == 401 and "read token" in (await refused.json())["error"]
        wrong = await gui.get(path, headers={"Authorization": "Bearer not-a-token"})
        assert wrong.status == 401
    assert (
        await gui.get("/api/info", headers={"Authorization": "Bearer carol-read-token"})
    ).status == 200
    assert (await gui.get("/api/info", cookies={"o2-read": "carol-read-token"})).status == 200
    assert (
        await gui.get("/api/info", headers={"Authorization": "Bearer alice-token-123"})
    ).status == 200  # who may act may read
    _, name = await first_event(gui, Authorization="Bearer carol-read-token")
    assert name == "snapshot"


async def test_without_read_tokens_reading_is_open(make_gui: Factory) -> None:
    gui = await make_gui()
    assert (await gui.get("/api/info")).status == 200
