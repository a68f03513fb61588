"""Costly templates on the real stack: a leader running 1,000 tasks refuses the 223-byte
ComponentConfig, the same expression in a workflow variable and in a hook argument, each with a
clear error within 2 s, and meanwhile keeps its lease and drives the other environments.

Real etcd, the local cluster with 50 hollow agents (o2's hollow executor answers as the o2
executor would), and the controller manager as a subprocess with a 3 s lease."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from crds.conditions import get_condition
from crds.kinds.componentconfig import ComponentConfig
from crds.kinds.environment import Environment
from crds.kinds.event import Event
from crds.kinds.workflow import Workflow
from hack.bench.environments_shape import agents_yaml, manifests
from hack.bench.stack import RESPONDER
from store.api import Store
from store.embedded import EmbeddedEtcd
from tests.configs.factories import cc
from tests.crds.test_templatework import STALL
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
    "controller.configs.controller:ComponentConfigReconciler",
)
TASKS = 1000


def reached(state: str) -> Callable[[Environment | None], bool]:
    def check(env: Environment | None) -> bool:
        return env is not None and env.status.state == state and env.status.transition is None

    return check


def refused(cc: ComponentConfig | None) -> bool:
    ready = None if cc is None else get_condition(cc.status.conditions, "Ready")
    return ready is not None and ready.status == "False" and "too much work" in ready.message


def invalid(env: Environment | None) -> bool:
    return env is not None and "too much work" in (env.status.message or "")


def solo_workflow(name: str, *, hook_argument: str | None = None) -> Workflow:
    roles: list[dict[str, object]] = [{"name": "solo", "task": {"class": "readout"}}]
    if hook_argument is not None:
        call = {"command": ["echo", hook_argument], "trigger": "before_CONFIGURE"}
        roles.append({"name": "announce", "call": call})
    return Workflow.model_validate(
        {"kind": "Workflow", "metadata": {"name": name}, "spec": {"roles": roles}}
    )


def environment(name: str, workflow: str, state: str, **variables: str) -> Environment:
    return Environment.model_validate(
        {
            "kind": "Environment",
            "metadata": {"name": name},
            "spec": {
                "workflow": workflow,
                "state": state,
                "vars": {"detector": "d00", **variables},
            },
        }
    )


async def set_state(store: Store, name: str, state: str) -> None:
    env = await store.get(Environment, name)
    spec = env.spec.model_copy(update={"state": state})
    await store.update(env.model_copy(update={"spec": spec}))


async def hook_failed(store: Store, env: str) -> None:
    """Until a HookFailed Event about `env` names the work bound (listed, then watched)."""

    def says_so(event: Event | None) -> bool:
        return (
            event is not None
            and event.spec.reason == "HookFailed"
            and event.spec.involved_object.name == env
            and "too much work" in event.spec.message
        )

    listed = await store.list(Event)
    if any(says_so(e) for e in listed.items):
        return
    async for change in store.watch(Event, start_revision=listed.revision + 1):
        if says_so(change.obj):
            return


async def test_costly_templates_are_refused_while_the_leader_keeps_its_lease(
    etcd_server: EmbeddedEtcd,
    etcd_store: Store,
    localmesos_factory: LocalMesosFactory,
    tmp_path: Path,
) -> None:
    store = etcd_store
    hollow = ("--hollow-responder", RESPONDER)
    cluster = start_cluster(localmesos_factory, tmp_path, agents_yaml(), extra_args=hollow)
    command = manager_command(
        etcd=etcd_server.endpoint,
        prefix=store.prefix,
        mesos=cluster.address,
        controllers=CONTROLLERS,
        extra_args=("--log-level", "INFO"),
    )
    manager = ManagerProcess(command, log_path=tmp_path / "manager.log")
    try:
        classes, workflow, big = manifests(TASKS)
        for obj in (*classes, workflow, solo_workflow("solo")):
            await store.create(obj)
        running = big.spec.model_copy(update={"state": "RUNNING"})
        await store.create(big.model_copy(update={"spec": running}))
        await wait_for(store, Environment, big.name, reached("RUNNING"), within=180)

        # the hostile objects, and the ordinary work that must go on meanwhile
        hostile_cc = cc("hostile", fmt="ini", data=f"rate = {STALL}\n")
        await store.create(solo_workflow("hooked", hook_argument=STALL))
        started = time.monotonic()
        await store.create(hostile_cc)
        await store.create(environment("hostile-var", "solo", "CONFIGURED", rate=STALL))
        await store.create(environment("hostile-hook", "hooked", "CONFIGURED"))
        await store.create(environment("other", "solo", "RUNNING"))
        await set_state(store, big.name, "CONFIGURED")

        await wait_for(store, ComponentConfig, "hostile", refused, within=10)
        await wait_for(store, Environment, "hostile-var", invalid, within=10)
        refused_after = time.monotonic() - started
        await wait_for(store, Environment, big.name, reached("CONFIGURED"), within=60)
        await wait_for(store, Environment, "other", reached("RUNNING"), within=60)
        await set_state(store, big.name, "RUNNING")
        await wait_for(store, Environment, big.name, reached("RUNNING"), within=60)

        await asyncio.wait_for(hook_failed(store, "hostile-hook"), timeout=30)
    finally:
        stop_by_pid(manager.proc)
    logs = manager.logs()
    assert refused_after < 2.0, f"refused after {refused_after:.1f} s"
    assert logs.count("Became leader") == 1, "leadership changed hands"
    assert "Lost leadership" not in logs and "Leader lease expired" not in logs
