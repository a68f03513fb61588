"""`o2 version`: the client's version, and the leading manager (its record in etcd), etcd's
and the Mesos master's versions, each bounded in time and `unreachable` when down."""

from __future__ import annotations

import asyncio
import json
import time
from importlib.metadata import version
from typing import Any

import pytest

from controller.manager import DEFAULT_MANAGER, Manager, ManagerConfig
from controller.runtime.leader import LeaderConfig
from store.embedded import EmbeddedEtcd, free_port
from store.etcd import EtcdStore
from store.versions import ManagerRecord, manager_record_key
from tests.cli.conftest import O2
from tests.mesos_fixture import LocalMesosProcess, localmesos, localmesos_factory
from tests.waiting import eventually

__all__ = ["localmesos", "localmesos_factory"]

FAST = LeaderConfig(ttl=2, renew_deadline=1.3, retry_period=0.3)
UNREACHABLE_BOUND = 20.0
"""Generous: two 3 s server timeouts, run side by side, plus start-up on a loaded machine."""


def as_json(result: Any) -> dict[str, Any]:
    assert result.exit_code == 0, result.stderr
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def dead_url() -> str:
    return f"http://127.0.0.1:{free_port()}"


def test_client_version_is_the_package_version_and_asks_no_server(o2: O2) -> None:
    result = o2("--etcd", dead_url(), "version", "--client", "-o", "json")
    document = as_json(result)
    assert document["clientVersion"]["version"] == version("o2-control")
    assert document["clientVersion"]["python"].startswith("CPython 3.")
    assert "serverVersion" not in document
    assert result.stderr == ""


def test_etcd_and_mesos_versions_come_from_the_servers(
    o2: O2, etcd_server: EmbeddedEtcd, localmesos: LocalMesosProcess
) -> None:
    document = as_json(o2("version", "--mesos", localmesos.address, "-o", "json"))
    server = document["serverVersion"]
    status = json.loads(o2.etcdctl("endpoint", "status", "-w", "json"))
    assert server["etcd"]["version"] == status[0]["Status"]["version"]
    assert server["mesos"]["version"] == localmesos.get("/version")["version"] == "1.11.0"
    assert {"build_date", "git_sha"} <= set(server["mesos"])
    assert server["manager"]["error"].startswith("no leader")
    text = o2("version", "--mesos", localmesos.address).stdout
    assert f"etcd Version:    {server['etcd']['version']}" in text
    assert "Mesos Version:   1.11.0" in text


def test_unreachable_servers_are_said_within_a_bound_and_exit_0(o2: O2) -> None:
    started = time.monotonic()
    result = o2("--etcd", dead_url(), "version", "--mesos", dead_url())
    took = time.monotonic() - started
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"Client Version:  {version('o2-control')}")
    assert lines[2].startswith("etcd Version:    unreachable")
    assert lines[3].startswith("Mesos Version:   unreachable")
    assert took < UNREACHABLE_BOUND, f"o2 version took {took:.1f}s with both servers down"


def test_bad_output_is_an_error_naming_the_flag(o2: O2) -> None:
    result = o2("version", "--client", "-o", "wide")
    assert result.exit_code == 1
    assert "-o" in result.stderr


async def test_the_leading_manager_records_its_version_and_the_record_goes_with_it(
    etcd_store: EtcdStore, etcd_server: EmbeddedEtcd
) -> None:
    config = ManagerConfig(
        identity="version-test", leader=FAST, controllers=("tests.runtime.gadget:GadgetGC",)
    )
    manager = Manager(etcd_store, etcd_store, config=config)
    stop = asyncio.Event()
    task = asyncio.create_task(manager.run(stop))
    key = manager_record_key(etcd_store.prefix, DEFAULT_MANAGER)
    o2 = O2(endpoint=etcd_server.endpoint, prefix=etcd_store.prefix)
    try:
        raw = await eventually(lambda: etcd_store.get_raw(key), within=15)
        record = ManagerRecord.from_bytes(raw.value)
        assert record is not None
        assert record.identity == "version-test"
        assert record.version == version("o2-control")
        document = await asyncio.to_thread(
            lambda: as_json(o2("version", "--mesos", dead_url(), "-o", "json"))
        )
        shown = document["serverVersion"]["manager"]
        assert shown["identity"] == "version-test"
        assert shown["version"] == version("o2-control")
        assert shown["name"] == DEFAULT_MANAGER
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)
    assert await etcd_store.get_raw(key) is None


@pytest.mark.parametrize("raw", [b"", b"{}", b"[1]", b'{"identity": 1}'])
def test_a_record_that_is_not_one_reads_as_none(raw: bytes) -> None:
    assert ManagerRecord.from_bytes(raw) is None
