"""Config fixtures: the ComponentConfig reconciler in an in-process manager on the session etcd
(unique prefix per test), and `o2 config` run in-process against the same prefix."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import TypeVar

import pytest
import typer
from typer.testing import CliRunner, Result

from cli.commands.config import register
from cli.options import DEFAULT_ETCD, ENV_VARS, GlobalOptions
from controller.manager import Manager, ManagerConfig
from controller.runtime.leader import LeaderConfig
from crds.resource import Resource
from store.api import Store
from store.embedded import EmbeddedEtcd
from store.etcd import EtcdStore
from tests.stack import wait_for as stack_wait_for
from tests.waiting import eventually

R = TypeVar("R", bound=Resource)

FAST = LeaderConfig(ttl=2, renew_deadline=1.3, retry_period=0.3)
CONFIGS = "controller.configs.controller:ComponentConfigReconciler"


@pytest.fixture
async def manager(etcd_store: EtcdStore) -> AsyncIterator[Manager]:
    config = ManagerConfig(identity="configs-test", leader=FAST, controllers=(CONFIGS,))
    mgr = Manager(etcd_store, etcd_store, config=config)
    stop = asyncio.Event()
    task = asyncio.create_task(mgr.run(stop))
    await eventually(lambda: mgr.elector.is_leader and all(c.running for c in mgr.controllers))
    try:
        yield mgr
    finally:
        stop.set()
        done, _ = await asyncio.wait([task], timeout=10)
        assert done, "manager did not stop"


def _root(
    ctx: typer.Context,
    *,
    etcd: str = typer.Option(DEFAULT_ETCD, envvar=ENV_VARS["etcd"]),
    prefix: str = typer.Option("/o2", envvar=ENV_VARS["prefix"]),
) -> None:
    """The global options `o2`'s root callback collects (only those these tests need)."""
    ctx.obj = GlobalOptions(etcd=etcd, prefix=prefix)


def config_cli() -> typer.Typer:
    """A root app with only the `o2 config` group, wired as `o2` wires it (`register(app)`)."""
    app = typer.Typer(pretty_exceptions_enable=False, rich_markup_mode="markdown")
    app.callback()(_root)
    register(app)
    return app


@dataclass(frozen=True)
class O2Config:
    """`o2 config ...` in-process against one etcd and prefix."""

    endpoint: str
    prefix: str

    def invoke(self, *args: str) -> Result:
        env = {"O2_ETCD": self.endpoint, "O2_PREFIX": self.prefix}
        return CliRunner().invoke(config_cli(), ["config", *args], env=env, catch_exceptions=False)

    async def __call__(self, *args: str) -> Result:
        """From async tests: in a thread, as the command runs its own event loop."""
        return await asyncio.to_thread(self.invoke, *args)


@pytest.fixture
def o2config(etcd_server: EmbeddedEtcd, etcd_store: EtcdStore) -> O2Config:
    return O2Config(endpoint=etcd_server.endpoint, prefix=etcd_store.prefix)


async def wait_for(
    store: Store,
    kind: type[R],
    name: str,
    pred: Callable[[R | None], bool],
    *,
    within: float = 10,
) -> R | None:
    """Watch `kind/name` until `pred(obj or None)` holds (`within` seconds at most)."""
    return await stack_wait_for(store, kind, name, pred, within=within)
