"""GUI test fixtures: the GUI app on a real etcd store, served by aiohttp's test server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from gui.auth import Tokens, parse_tokens
from gui.server import make_app
from store.etcd import EtcdStore

TOKENS = "alice:alice-token-123\nbob:bob-token-4567\n"

Gui = TestClient[web.Request, web.Application]


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
