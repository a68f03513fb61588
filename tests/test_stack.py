"""The shared end-to-end helpers in tests.stack, on a real etcd: bounded waits and port slices."""

from __future__ import annotations

import asyncio
import os
import socket

import pytest
from hypothesis import settings

from crds.kinds.task import Task
from localmesos.config import FIRST_SLICE_ENV, PORT_SLICES, default_ports
from store.etcd import EtcdStore
from tests import stack
from tests.stack import DEFAULT_AGENT_SLICES, port_slice, wait_for
from tests.tasks.harness import sample_task


def slices_of(first: int, monkeypatch: pytest.MonkeyPatch) -> set[int]:
    """Every port the port_slice()s and the first ten default agents of a test process whose
    share starts at slice `first` (of three processes) may hand out."""
    monkeypatch.setenv(FIRST_SLICE_ENV, str(first))
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "3")
    used: set[int] = set()
    for _ in range(300):
        for width in (60, 100, 200, 300):
            base = port_slice(width)
            assert base + width - 1 < 32768  # below the ephemeral range free_port() uses
            used.update(range(base, base + width))
    for index in range(DEFAULT_AGENT_SLICES):
        begin, end = map(int, default_ports(index).strip("[]").split("-"))
        used.update(range(begin, end + 1))
    return used


def test_port_slices_of_parallel_test_processes_never_overlap(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    share = PORT_SLICES // 3
    processes = [slices_of(i * share, monkeypatch) for i in range(3)]
    for i, mine in enumerate(processes):
        for other in processes[i + 1 :]:
            assert not mine & other


def only_watching(monkeypatch: pytest.MonkeyPatch, ports: range) -> None:
    """`port_slice` sees listeners on `ports` only: these tests draw from share 0, which the
    first xdist worker's clusters use meanwhile (their listeners made slices look taken)."""
    real = stack.port_is_free
    monkeypatch.setattr(stack, "port_is_free", lambda port: port not in ports or real(port))


def test_a_slice_comes_back_only_after_the_others(monkeypatch: pytest.MonkeyPatch) -> None:
    """The processes of the test before may still hold their ports (a test once got "OCC port
    already in use" from a slice drawn twice in a row)."""
    monkeypatch.setenv(FIRST_SLICE_ENV, "0")
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "3")
    only_watching(monkeypatch, range(0))
    drawn = [port_slice(100) for _ in range(PORT_SLICES // 3 - DEFAULT_AGENT_SLICES)]
    assert len(set(drawn)) == len(drawn)


async def test_wait_for_returns_the_object_once_a_later_write_satisfies_the_check(
    etcd_store: EtcdStore,
) -> None:
    waiting = asyncio.create_task(
        wait_for(etcd_store, Task, "t1", lambda t: t is not None, within=10)
    )
    await etcd_store.create(sample_task("t1"))
    got = await waiting
    assert got is not None and got.name == "t1"


async def test_wait_for_sees_a_deletion_as_none(etcd_store: EtcdStore) -> None:
    await etcd_store.create(sample_task("t2"))
    waiting = asyncio.create_task(wait_for(etcd_store, Task, "t2", lambda t: t is None, within=10))
    await etcd_store.delete(Task, "t2")
    assert await waiting is None


async def test_wait_for_names_the_object_when_the_check_never_holds(
    etcd_store: EtcdStore,
) -> None:
    await etcd_store.create(sample_task("t3"))
    with pytest.raises(AssertionError, match="Task/t3 never got there"):
        await wait_for(etcd_store, Task, "t3", lambda t: t is None, within=0.2)


def test_hypothesis_examples_have_no_deadline_in_any_module() -> None:
    """Regression (a loaded full run): the 200 ms per-example deadline failed plain property
    tests as "flaky" (290-460 ms under three test processes). Every profile loaded by a test
    module keeps it off."""
    assert settings.default.deadline is None


def test_each_xdist_worker_draws_from_its_own_share() -> None:
    """Regression: the xdist controller also loads tests/conftest.py and set the share's start
    to 0 in its environment, which every worker inherited; all three drew from one share and
    their tasks met on the same OCC ports (31900, 22000, 32300 in three full runs)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
    expected = (PORT_SLICES // count) * int(worker[2:]) if worker.startswith("gw") else 0
    assert os.environ[FIRST_SLICE_ENV] == str(expected)


def test_a_slice_with_a_listener_on_its_first_ports_is_passed_over(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A process of an earlier test (or of another process drawing from this share) still
    listening on a slice's first port: port_slice hands out another slice."""
    monkeypatch.setenv(FIRST_SLICE_ENV, "0")
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "3")
    drawable = PORT_SLICES // 3 - DEFAULT_AGENT_SLICES
    held = port_slice(100)
    only_watching(monkeypatch, range(held, held + 100))
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", held))
        listener.listen()
        drawn = {port_slice(100) for _ in range(2 * drawable)}
    assert held not in drawn and len(drawn) == drawable - 1
