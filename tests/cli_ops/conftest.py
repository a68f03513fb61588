"""Helpers for the operations commands: build Environments/Tasks/Nodes, run `o2` in a thread
against the session etcd under the test's private prefix, and play the environment controller."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from cli.options import StderrHandler
from crds.kinds.environment import Environment
from crds.kinds.node import Node
from crds.kinds.task import Task
from store.api import Store
from store.embedded import EmbeddedEtcd
from tests.cli.conftest import O2


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
        env=o2.subprocess_env(),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(within):
            out, err = await proc.communicate()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
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
