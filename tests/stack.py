"""The end-to-end stack for tests and benches: a local Mesos cluster on a random port slice, the
controller manager as a real subprocess (stopped by pid), and bounded waits on etcd watches.
Test-side only: reaches the product through its CLIs, the store API and HTTP."""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TypeVar

from crds.resource import Resource
from localmesos.config import FIRST_SLICE_ENV, PORT_SLICES, slot_port
from store.api import Store, WatchEvent
from store.config import StoreConfig, open_store
from store.embedded import port_is_free
from tests.etcd_fixture import unique_prefix
from tests.mesos_fixture import LocalMesosProcess

R = TypeVar("R", bound=Resource)
REPO = Path(__file__).resolve().parents[1]
SAMPLE_TASK = str(Path(sys.executable).with_name("o2-sample-task"))
FAST_CLUSTER = (
    "--heartbeat-interval",
    "1",
    "--allocation-interval",
    "0.1",
    "--update-retry",
    "0.5",
)
FAST_MANAGER = {"O2_TASK_RECONCILE_PERIOD": "5"}

LocalMesosFactory = Callable[..., LocalMesosProcess]


@asynccontextmanager
async def open_test_store(endpoint: str) -> AsyncIterator[Store]:
    """A store on a fresh unique prefix of the shared etcd, closed on exit."""
    store = await open_store(StoreConfig(endpoints=(endpoint,), prefix=unique_prefix()))
    try:
        yield store
    finally:
        await store.close()


DEFAULT_AGENT_SLICES = 8
"""The first slices of a test process's share are for default agents (`--agents N`)."""
_rotation: list[int] = []
USED_FIRST = 8
"""How many of a slice's lowest ports `slice_unused` checks."""


def port_slice(width: int) -> int:
    """The first port of a `width`-wide slice: every local cluster on this machine shares
    127.0.0.1, so equal ranges in concurrent runs (and their OCC ports) would collide. Taken
    from this test process's share of the agents' 100-port slices past its first
    DEFAULT_AGENT_SLICES (tests/conftest.py sets where the share starts), so two test processes
    never hand out the same ports; within the process the slices rotate from a random start, so
    a slice comes back only after all the others: the processes of a test that just ended (an
    executor gives its tasks a few seconds once its agent is gone) keep theirs meanwhile. A
    slice something still listens on is passed over (`slice_unused`)."""
    first = int(os.environ.get(FIRST_SLICE_ENV, "0") or 0)
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
    share = PORT_SLICES // max(1, count)
    low, high = first + DEFAULT_AGENT_SLICES, first + share
    needed = -(-width // 100)
    if not _rotation:
        _rotation.append(random.randrange(low, high))
    for _ in range(2 * share):
        slot = _rotation[0]
        if slot < low or slot + needed > high:
            slot = low
        _rotation[0] = slot + needed
        ports = [slot_port(slot + i) for i in range(needed)]
        if not all(b - a == 100 for a, b in itertools.pairwise(ports)):  # not 32699 -> 20000
            continue
        if all(slice_unused(p) for p in ports):
            return ports[0]
    raise AssertionError(f"no {width}-port slice in this test process's share")


def slice_unused(first: int) -> bool:
    """No process listens on the slice's first ports (tasks take the lowest offered ports):
    a slice still held by a process of an earlier test, or drawn by another process of this
    test process's share (a soak subprocess rotates on its own), is passed over."""
    return all(port_is_free(port) for port in range(first, first + USED_FIRST))


def start_cluster(
    localmesos_factory: LocalMesosFactory,
    tmp_path: Path,
    agents: str,
    *,
    extra_args: Iterable[str] = (),
) -> LocalMesosProcess:
    """A local cluster with the agents of the YAML `agents` and fast timers."""
    path = tmp_path / "agents.yaml"
    path.write_text(agents)
    return localmesos_factory("--agents-file", str(path), *FAST_CLUSTER, *extra_args)


def stop_by_pid(proc: subprocess.Popen[bytes], *, grace: float = 15.0) -> None:
    """SIGTERM by pid, SIGKILL once `grace` seconds have passed."""
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def manager_command(
    *,
    etcd: str,
    prefix: str,
    mesos: str,
    controllers: Iterable[str],
    lease_ttl: float | None = 3,
    python_args: Iterable[str] = (),
    extra_args: Iterable[str] = (),
) -> list[str]:
    """`python -m controller` running `controllers` against one etcd prefix and one master;
    `python_args` go before `-m` (a profiler), `extra_args` after (a log level)."""
    args = [sys.executable, *python_args, "-m", "controller", "--etcd", etcd, "--prefix", prefix]
    args += ["--mesos", mesos]
    if lease_ttl is not None:
        args += ["--lease-ttl", f"{lease_ttl:g}"]
    for entry in controllers:
        args += ["--controller", entry]
    return [*args, *extra_args]


class ManagerProcess:
    """The controller manager as a subprocess in its own session, logging to `log_path`."""

    def __init__(
        self,
        args: list[str],
        *,
        log_path: Path,
        env: Mapping[str, str] | None = None,
        fast_timers: bool = True,
    ) -> None:
        self.log_path = log_path
        fast = FAST_MANAGER if fast_timers else {}
        full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **fast, **(env or {})}
        with log_path.open("ab") as log_file:
            self.proc = subprocess.Popen(
                args,
                cwd=REPO,
                env=full_env,
                stdout=log_file,
                stderr=log_file,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def kill9(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        stop_by_pid(self.proc)

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")


class Managers:
    """Starts managers with one command line; `stop_all()` stops every one started, by pid."""

    def __init__(
        self, args: list[str], *, log_path: Path, env: Mapping[str, str] | None = None
    ) -> None:
        self.args = args
        self.log_path = log_path
        self.env = dict(env or {})
        self.started: list[ManagerProcess] = []

    def start(self) -> ManagerProcess:
        proc = ManagerProcess(self.args, log_path=self.log_path, env=self.env)
        self.started.append(proc)
        return proc

    def stop_all(self) -> None:
        for proc in self.started:
            proc.stop()


async def watch_until(
    store: Store,
    kind: type[R],
    *,
    observe: Callable[[WatchEvent[R]], None],
    done: Callable[[], bool],
    within: float,
    failure: Callable[[], str],
) -> None:
    """List `kind` (each item given to `observe` as an ADDED event), then watch from that
    revision, until `done()`; AssertionError with `failure()` after `within` seconds."""
    listed = await store.list(kind)
    for obj in listed.items:
        observe(WatchEvent("ADDED", key="", name=obj.name, revision=listed.revision, obj=obj))
    if done():
        return
    stream = store.watch(kind, start_revision=listed.revision + 1)
    try:
        async with asyncio.timeout(within):
            async for event in stream:
                observe(event)
                if done():
                    return
    except TimeoutError:
        raise AssertionError(failure()) from None
    finally:
        await stream.aclose()  # type: ignore[attr-defined]
    raise AssertionError("watch ended")


async def wait_for(
    store: Store, kind: type[R], name: str, check: Callable[[R | None], bool], *, within: float
) -> R | None:
    """Until `kind/name` (None when absent) satisfies `check`: list, then watch; bounded."""
    current: list[R | None] = [None]

    def observe(event: WatchEvent[R]) -> None:
        if event.name == name:
            current[0] = None if event.type == "DELETED" else event.obj

    await watch_until(
        store,
        kind,
        observe=observe,
        done=lambda: check(current[0]),
        within=within,
        failure=lambda: f"{kind.KIND}/{name} never got there: {current[0]}",
    )
    return current[0]
