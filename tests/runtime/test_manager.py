"""Manager processes on real etcd: failover on kill -9, fencing after SIGSTOP, etcd restarts."""

from __future__ import annotations

import asyncio
import signal
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from store.config import StoreConfig, open_store
from store.embedded import EmbeddedEtcd
from store.etcd import EtcdStore
from tests.etcd_fixture import unique_prefix
from tests.runtime.gadget import Gadget, gadget
from tests.runtime.procs import ManagerProcess, managers
from tests.waiting import eventually

TTL = 2
STARTUP = 60.0
"""The stack's bound for a just-started manager's first answer (imports, election, first list)."""

Start = Callable[..., ManagerProcess]


@pytest.fixture
def start_manager(tmp_path: Path) -> Iterator[Start]:
    with managers(tmp_path) as start:
        yield start


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as body:
        return str(body.read().decode())


async def writer_of(store: EtcdStore, name: str) -> tuple[str, int]:
    try:
        obj = await store.get(Gadget, name)
    except Exception:
        return ("", -1)
    return obj.status.writer, obj.status.seen


async def wait_written(
    store: EtcdStore, name: str, *, writer: str, seen: int, within: float
) -> float:
    """Poll etcd until `name` shows status (writer, seen); returns the loop time it did."""
    await eventually(
        lambda: writer_of(store, name),
        until=lambda found: found == (writer, seen),
        within=within,
        interval=0.02,
        message=f"gadget {name} written by {writer} with seen={seen}",
    )
    return asyncio.get_running_loop().time()


async def set_value(store: EtcdStore, name: str, value: int) -> None:
    obj = await store.get(Gadget, name)
    await store.update(
        obj.model_copy(update={"spec": obj.spec.model_copy(update={"value": value})})
    )


async def two_managers(
    store: EtcdStore, endpoint: str, start: Start
) -> tuple[ManagerProcess, ManagerProcess]:
    # Each process has just been started: its imports and election take seconds on a loaded
    # machine, so these first waits get the stack's bound (no timing is asserted here).
    first = start(endpoint=endpoint, prefix=store.prefix, identity="m1", ttl=TTL)
    await asyncio.to_thread(first.wait_log, "Became leader", timeout=STARTUP)
    second = start(endpoint=endpoint, prefix=store.prefix, identity="m2", ttl=TTL)
    await asyncio.to_thread(second.wait_log, "Standing by", timeout=STARTUP)
    return first, second


async def test_standby_takes_over_within_lease_ttl_after_leader_is_killed(
    etcd_store: EtcdStore, etcd_server: EmbeddedEtcd, start_manager: Start
) -> None:
    m1, m2 = await two_managers(etcd_store, etcd_server.endpoint, start_manager)
    await etcd_store.create(gadget("x"))
    # m1's first reconcile (its controllers may still be starting): the stack's bound.
    await wait_written(etcd_store, "x", writer="m1", seen=0, within=STARTUP)
    loop = asyncio.get_running_loop()
    killed = loop.time()
    m1.signal(signal.SIGKILL)
    await set_value(etcd_store, "x", 1)
    taken_over = await wait_written(etcd_store, "x", writer="m2", seen=1, within=TTL + 8)
    assert taken_over - killed <= TTL + 2
    text = await asyncio.to_thread(scrape, m2.metrics_port())
    assert 'o2_leader{manager="m2"} 1.0' in text
    assert 'o2_reconcile_total{controller="gadget",outcome="success"}' in text
    assert 'o2_workqueue_depth{controller="gadget"}' in text


async def test_paused_old_leader_is_fenced_when_it_resumes_and_stops_its_controllers(
    etcd_store: EtcdStore, etcd_server: EmbeddedEtcd, start_manager: Start
) -> None:
    m1, m2 = await two_managers(etcd_store, etcd_server.endpoint, start_manager)
    await etcd_store.create(gadget("slow", delay=0.5))
    # m1's first reconcile (its controllers may still be starting): the stack's bound.
    await asyncio.to_thread(m1.wait_log, "Reconcile start", timeout=STARTUP, key="slow")
    m1.signal(signal.SIGSTOP)  # frozen between reading and writing
    await asyncio.to_thread(m2.wait_log, "Became leader", timeout=TTL + 8)
    await wait_written(etcd_store, "slow", writer="m2", seen=0, within=10)
    m1.signal(signal.SIGCONT)
    await asyncio.to_thread(m1.wait_log, "Fenced write", key="slow")
    await asyncio.to_thread(m1.wait_log, "Controllers stopped")
    assert not m1.has_logged("Reconcile done", key="slow")
    assert await writer_of(etcd_store, "slow") == ("m2", 0)
    # the deposed manager stands by again instead of fighting
    await asyncio.to_thread(m1.wait_log, "Standing by")


async def test_graceful_shutdown_hands_over_leadership_at_once(
    etcd_store: EtcdStore, etcd_server: EmbeddedEtcd, start_manager: Start
) -> None:
    m1, m2 = await two_managers(etcd_store, etcd_server.endpoint, start_manager)
    started = time.monotonic()
    m1.signal(signal.SIGTERM)
    assert await asyncio.to_thread(m1.proc.wait, 10) == 0
    await asyncio.to_thread(m2.wait_log, "Became leader", timeout=TTL + 8)
    assert time.monotonic() - started < TTL
    assert m1.has_logged("Resigned leadership")


async def test_manager_reconnects_and_converges_after_etcd_restart(
    private_etcd: Callable[..., EmbeddedEtcd], start_manager: Start
) -> None:
    etcd = private_etcd()
    store = await open_store(StoreConfig(endpoints=(etcd.endpoint,), prefix=unique_prefix()))
    try:
        m1 = start_manager(endpoint=etcd.endpoint, prefix=store.prefix, identity="m1", ttl=TTL)
        # Just started: imports, election and the first reconcile get the stack's bound.
        await asyncio.to_thread(m1.wait_log, "Became leader", timeout=STARTUP)
        await store.create(gadget("a"))
        await wait_written(store, "a", writer="m1", seen=0, within=STARTUP)
        await asyncio.to_thread(etcd.stop_sync)
        await asyncio.to_thread(etcd.start_sync)
        await store.create(gadget("b", value=2))
        await set_value(store, "a", 7)
        await wait_written(store, "a", writer="m1", seen=7, within=30)
        await wait_written(store, "b", writer="m1", seen=2, within=10)
        assert m1.proc.poll() is None  # the same process, never restarted
    finally:
        await store.close()


async def test_default_manager_runs_the_garbage_collector_over_every_kind_and_exits_cleanly(
    etcd_store: EtcdStore, etcd_server: EmbeddedEtcd, start_manager: Start
) -> None:
    from crds.resource import all_kinds

    m = start_manager(
        endpoint=etcd_server.endpoint, prefix=etcd_store.prefix, identity="d", controllers=()
    )
    await asyncio.to_thread(  # a whole manager start-up: the stack's bound
        m.wait_log, "Controller started", timeout=STARTUP, controller="garbage-collector"
    )
    listed = {line["kind"] for line in m.logs() if line.get("message") == "Listed"}
    assert listed == {info.kind for info in all_kinds()}
    m.signal(signal.SIGTERM)
    assert await asyncio.to_thread(m.proc.wait, 10) == 0
    assert not [line for line in m.logs() if line.get("level") in ("ERROR", "CRITICAL")]
    assert not m.has_logged("Lost leadership")
