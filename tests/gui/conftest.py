"""GUI test fixtures: the GUI app on a real etcd store, served by aiohttp's test server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from gui.auth import Tokens, hash_token, parse_tokens
from gui.server import make_app
from store.embedded import EmbeddedEtcd
from store.etcd import EtcdStore
from tests.gui.cdp import Browser, Chromium
from tests.gui.procs import GuiProcess, gui_process

TOKENS = "alice:alice-token-123\nbob:bob-token-4567\n"

Gui = TestClient[web.Request, web.Application]


@pytest.fixture(scope="session")
def chromium() -> Iterator[Chromium]:
    """One headless Chromium per test process, started on first use; each test's page lives in
    a browser context of its own (no cookies, storage or cache shared between tests)."""
    shared = Chromium()
    try:
        yield shared
    finally:
        shared.stop()


@pytest.fixture
async def browser(chromium: Chromium) -> AsyncIterator[Browser]:
    """A page of its own for one test; the page must not throw."""
    async with Browser(chromium=chromium) as b:
        yield b
        assert b.exceptions == [], "the page threw"


def gui_with_a_viewer(
    etcd_server: EmbeddedEtcd, etcd_store: EtcdStore, tmp_path: Path
) -> Iterator[GuiProcess]:
    """The GUI process with alice and bob (TOKENS, admins), vera, a viewer, and sam, a shifter
    (`--users-file`)."""
    tokens, users = tmp_path / "tokens", tmp_path / "users"
    tokens.write_text(TOKENS)
    users.write_text(
        f"vera:viewer:{hash_token('vera-viewer-token')}\n"
        f"sam:shifter:{hash_token('sam-shifter-token')}\n"
    )
    for path in (tokens, users):
        path.chmod(0o600)
    with gui_process(
        etcd=etcd_server.endpoint,
        prefix=etcd_store.prefix,
        token_file=tokens,
        extra=("--users-file", str(users)),
    ) as proc:
        yield proc


@pytest.fixture
def tokens() -> Tokens:
    return parse_tokens(TOKENS)


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    path = tmp_path / "tokens"
    path.write_text(TOKENS)
    path.chmod(0o600)
    return path


@pytest.fixture
async def gui(etcd_store: EtcdStore, tokens: Tokens) -> AsyncIterator[Gui]:
    """A GUI with actions enabled (alice, bob), fast flushes, on the test's etcd prefix."""
    client = TestClient(TestServer(make_app(etcd_store, tokens=tokens, flush_interval=0.02)))
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
async def readonly_gui(etcd_store: EtcdStore) -> AsyncIterator[Gui]:
    client = TestClient(TestServer(make_app(etcd_store, flush_interval=0.02)))
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()
