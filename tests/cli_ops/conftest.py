"""Helpers for the operations commands: build Environments/Tasks/Nodes, run `o2` in a thread
against the session etcd under the test's private prefix, and play the environment controller."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest

from cli.options import StderrHandler
from crds.kinds.environment import Environment
from crds.kinds.node import Node
from crds.kinds.task import Task
from crds.resource import Resource
from store.api import Store
from store.config import StoreConfig, open_store
from store.embedded import EmbeddedEtcd
from tests.cli.conftest import O2
from tests.etcd_fixture import unique_prefix

T = TypeVar("T")
R = TypeVar("R", bound=Resource)


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """In-process commands attach o2's stderr log handler; leave the root logger as found."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in [h for h in root.handlers if isinstance(h, StderrHandler)]:
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)


@pytest.fixture
def o2(etcd_server: EmbeddedEtcd, etcd_store: Store) -> O2:
    """`o2` bound to the same etcd and prefix as `etcd_store`."""
    return O2(endpoint=etcd_server.endpoint, prefix=etcd_store.prefix)


@dataclass(frozen=True)
class Ran:
    exit_code: int
    stdout: str
    stderr: str


async def run_o2(o2: O2, *args: str, within: float = 60) -> Ran:
    """`o2 ARGS` as a real subprocess (stdin not a terminal) while the test plays the
    controller on this loop. In-process runs would need a second event loop, and grpc's asyncio
    poller supports one loop per process."""
    proc = await asyncio.create_subprocess_exec(
        *o2.argv(*args),
        env={**o2.subprocess_env(), "PYTHONFAULTHANDLER": "1"},
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    readers = [asyncio.ensure_future(stream.read()) for stream in (proc.stdout, proc.stderr)]
    try:
        async with asyncio.timeout(within):
            await proc.wait()
    except TimeoutError:
        proc.send_signal(signal.SIGABRT)  # faulthandler prints where it hangs
        await proc.wait()
        _, err = await asyncio.gather(*readers)
        raise AssertionError(
            f"o2 {' '.join(args)} still running after {within}s; stderr: {err.decode()}"
        ) from None
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    out, err = await asyncio.gather(*readers)
    assert proc.returncode is not None
    return Ran(proc.returncode, out.decode(), err.decode())


def env_obj(
    name: str, *, desired: str = "STANDBY", state: str = "STANDBY", **status: Any
) -> Environment:
    return Environment.model_validate(
        {
            "apiVersion": "o2/v1alpha1",
            "kind": "Environment",
            "metadata": {"name": name},
            "spec": {"workflow": "readout-dataflow", "state": desired},
            "status": {"state": state, **status},
        }
    )


def task_obj(
    name: str,
    *,
    env: str | None,
    role: str = "readout",
    state: str | None = "STANDBY",
    phase: str = "Running",
    **status: Any,
) -> Task:
    return Task.model_validate(
        {
            "apiVersion": "o2/v1alpha1",
            "kind": "Task",
            "metadata": {"name": name},
            "spec": {
                "environment": env,
                "role": role,
                "taskClass": "readout",
                "command": {"value": "o2-sample-task"},
            },
            "status": {"state": state, "phase": phase, **status},
        }
    )


def node_obj(name: str, **status: Any) -> Node:
    return Node.model_validate(
        {
            "apiVersion": "o2/v1alpha1",
            "kind": "Node",
            "metadata": {"name": name},
            "status": {"hostname": name, **status},
        }
    )


async def put(store: Store, obj: Any) -> Any:
    """Create `obj` with its status (status is written separately, as controllers do)."""
    created = await store.create(obj)
    return await store.update_status(created.model_copy(update={"status": obj.status}))


async def wait_env(
    store: Store, name: str, test: Callable[[Environment], bool], *, within: float = 20
) -> Environment:
    """The Environment once `test` holds, watched (no polling)."""
    env = await store.get(Environment, name)
    if test(env):
        return env
    async with asyncio.timeout(within):
        revision = env.metadata.resource_version or 0
        async for event in store.watch(Environment, start_revision=revision + 1):
            if event.name == name and event.obj is not None and test(event.obj):
                return event.obj
    raise AssertionError("watch ended")


async def set_env_status(store: Store, name: str, **update: Any) -> Environment:
    """Write status like the environment controller: observedGeneration = generation."""
    env = await store.get(Environment, name)
    status = env.status.model_copy(
        update={"observed_generation": env.metadata.generation, **update}
    )
    return await store.update_status(env.model_copy(update={"status": status}))


async def set_task_status(store: Store, name: str, **update: Any) -> Task:
    task = await store.get(Task, name)
    status = task.status.model_copy(update=update)
    return await store.update_status(task.model_copy(update={"status": status}))


@pytest.fixture
def o2_sync(etcd_server: EmbeddedEtcd) -> O2:
    """`o2` for synchronous tests that run the CLI in-process (typer's CliRunner): no event loop
    of the test's own competes with the command's."""
    return O2(endpoint=etcd_server.endpoint, prefix=unique_prefix())


def on_store(o2: O2, work: Callable[[Store], Awaitable[T]]) -> T:
    """Run `work` with a store on `o2`'s etcd and prefix, in a loop of its own (sync tests)."""

    async def go() -> T:
        store = await open_store(StoreConfig(endpoints=(o2.endpoint,), prefix=o2.prefix))
        try:
            return await work(store)
        finally:
            await store.close()

    return asyncio.run(go())


def seed(o2: O2, *objs: Any) -> None:
    async def put_all(store: Store) -> None:
        for obj in objs:
            await put(store, obj)

    on_store(o2, put_all)


def fetch(o2: O2, kind: type[R], name: str) -> R:
    async def get(store: Store) -> R:
        return await store.get(kind, name)

    return on_store(o2, get)
