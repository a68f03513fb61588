"""Run numbers exactly once on the real stack: 60 START/STOP cycles of one environment while
three writers race the controller's status writes (a CLI-like patch of annotations, a
ComponentConfig-like condition writer, a GitSource-like re-apply of labels), and the controller
manager killed with SIGKILL at random points of START now and then (and restarted). Every run
number the Environment ever shows, read from a raw watch, must be 1, 2, ..., 200: strictly
increasing, no gaps, no duplicates; and the etcd counter must end at 200.

Real etcd, the local cluster with one hollow agent, the manager as a subprocess (1 s lease) with
a standby beside it: the standby takes over from the killed leader within about a lease TTL and
a new standby starts meanwhile (a killed manager left alone until its replacement had started
cost several seconds of interpreter startup per kill)."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from controller.environments.controller import RUN_NUMBER_KEY
from crds.conditions import set_condition
from crds.errors import ConflictError
from crds.kinds.environment import Environment
from crds.meta import Condition, utcnow
from hack.bench.environments_shape import manifests
from hack.bench.stack import RESPONDER
from store.api import Store
from store.codec import lease_key
from store.embedded import EmbeddedEtcd
from store.etcd import EtcdStore
from store.versions import DEFAULT_MANAGER
from tests.environments.test_costly_templates_stack import (
    environment,
    reached,
    solo_workflow,
)
from tests.mesos_fixture import localmesos_factory
from tests.stack import (
    LocalMesosFactory,
    ManagerProcess,
    manager_command,
    start_cluster,
    stop_by_pid,
    wait_for,
)

pytestmark = pytest.mark.slow
__all__ = ["localmesos_factory"]

CONTROLLERS = (
    "controller.tasks.controller:TaskReconciler",
    "controller.environments.controller:EnvironmentReconciler",
)
AGENT = (
    '- {hostname: flp-d00, hollow: true, resources: {cpus: 8, mem: 8192, ports: "[31000-31099]"}}\n'
)
CYCLES = 60
KILL_EVERY = 10
"""One START in this many is hit by a SIGKILL of the manager (at a random point)."""
NAME = "physics"


async def modify(store: Store, change: Callable[[Environment], Awaitable[None]]) -> None:
    """Read the environment and apply `change`, again on a conflict (as any client would)."""
    while True:
        try:
            await change(await store.get(Environment, NAME))
            return
        except ConflictError:
            continue


def writers(store: Store) -> list[Callable[[Environment], Awaitable[None]]]:
    async def patch_annotation(env: Environment) -> None:
        notes = {**env.metadata.annotations, "example.org/touched": str(random.random())}
        meta = env.metadata.model_copy(update={"annotations": notes})
        await store.update(env.model_copy(update={"metadata": meta}))

    async def config_condition(env: Environment) -> None:
        cond = Condition(type="ConfigChangePending", status="False", reason=f"r{random.random()}")
        conditions = set_condition(env.status.conditions, cond, now=utcnow())
        status = env.status.model_copy(update={"conditions": conditions})
        await store.update_status(env.model_copy(update={"status": status}))

    async def reapply_labels(env: Environment) -> None:
        labels = {**env.metadata.labels, "example.org/synced": str(random.randrange(10**6))}
        meta = env.metadata.model_copy(update={"labels": labels})
        await store.update(env.model_copy(update={"metadata": meta}))

    return [patch_annotation, config_condition, reapply_labels]


async def race(store: Store, write: Callable[[Environment], Awaitable[None]]) -> None:
    while True:
        await modify(store, write)
        await asyncio.sleep(random.uniform(0.0, 0.02))


async def set_state(store: Store, state: str) -> None:
    async def change(env: Environment) -> None:
        spec = env.spec.model_copy(update={"state": state})
        await store.update(env.model_copy(update={"spec": spec}))

    await modify(store, change)


async def shown_run_numbers(store: Store, shown: list[int], ready: asyncio.Event) -> None:
    """Every run number the environment shows, in order (consecutive repeats folded)."""
    listed = await store.list(Environment)
    ready.set()
    async for event in store.watch(Environment, start_revision=listed.revision + 1):
        obj = event.obj
        if event.name != NAME or obj is None or obj.status.run_number is None:
            continue
        if not shown or shown[-1] != obj.status.run_number:
            shown.append(obj.status.run_number)


async def leader(store: EtcdStore, managers: list[ManagerProcess]) -> ManagerProcess:
    """The manager holding the leader key (its value is `<host>-<pid>`)."""
    held = await store.get_raw(lease_key(store.prefix, DEFAULT_MANAGER))
    assert held is not None, "no manager holds the leader key"
    pid = int(held.value.decode().rsplit("-", 1)[1])
    found = [m for m in managers if m.pid == pid]
    assert found, f"the leader key names pid {pid}, none of this test's managers"
    return found[0]


async def settled(store: Store, state: str, log_path: Path) -> None:
    """Until the environment settles in `state`; on a timeout the managers' last log lines
    are part of the failure (a stall once seen under the full suite's load left no trace)."""
    try:
        await wait_for(store, Environment, NAME, reached(state), within=60)
    except AssertionError as exc:
        tail = log_path.read_text(errors="replace").splitlines()[-60:]  # noqa: ASYNC240 (failing)
        raise AssertionError(f"{exc}\nmanager log (last lines):\n" + "\n".join(tail)) from None


async def test_run_numbers_are_handed_out_exactly_once_through_conflicts_and_kills(
    etcd_server: EmbeddedEtcd,
    etcd_store: EtcdStore,
    localmesos_factory: LocalMesosFactory,
    tmp_path: Path,
) -> None:
    store = etcd_store
    hollow = ("--hollow-responder", RESPONDER)
    cluster = start_cluster(localmesos_factory, tmp_path, AGENT, extra_args=hollow)
    command = manager_command(
        etcd=etcd_server.endpoint,
        prefix=store.prefix,
        mesos=cluster.address,
        controllers=CONTROLLERS,
        lease_ttl=1,  # a killed manager's successor takes over within about a second
        extra_args=("--log-level", "INFO"),
    )
    log_path = tmp_path / "manager.log"
    managers = [ManagerProcess(command, log_path=log_path) for _ in range(2)]  # one stands by
    classes, _, _ = manifests(100)
    for obj in (*classes, solo_workflow("solo")):
        await store.create(obj)
    await store.create(environment(NAME, "solo", "CONFIGURED"))
    shown: list[int] = []
    ready = asyncio.Event()
    background = [asyncio.create_task(shown_run_numbers(store, shown, ready))]
    await ready.wait()
    background += [asyncio.create_task(race(store, w)) for w in writers(store)]
    rng = random.Random(16)
    kills = 0
    try:
        await settled(store, "CONFIGURED", log_path)
        for cycle in range(1, CYCLES + 1):
            await set_state(store, "RUNNING")
            if cycle % KILL_EVERY == 0:
                await asyncio.sleep(rng.uniform(0.0, 0.3))  # a random point of START
                (await leader(store, managers)).kill9()
                kills += 1
                managers.append(ManagerProcess(command, log_path=log_path))  # the next standby
            await settled(store, "RUNNING", log_path)
            await set_state(store, "CONFIGURED")
            await settled(store, "CONFIGURED", log_path)
    finally:
        for task in background:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for manager in managers:
            stop_by_pid(manager.proc)
    env = await store.get(Environment, NAME)
    counter = await store.get_raw(f"{store.prefix}/{RUN_NUMBER_KEY}")
    assert kills == CYCLES // KILL_EVERY
    assert shown == list(range(1, CYCLES + 1)), f"run numbers shown: {shown}"
    assert env.status.last_run_number == CYCLES
    assert counter is not None and counter.value == str(CYCLES).encode()
