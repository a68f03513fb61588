"""A three-member etcd loses a member under load and gets it back, twice (the leader, then a
follower; each killed with SIGKILL and restarted on its data dir) while an environment cycles
RUNNING <-> CONFIGURED without pause: no controller manager process needs a restart, every
transition asked completes, and run numbers stay 1, 2, 3, ... (none lost, none reused).

The stack is hack.chaos's (three embedded etcd members, two managers with a 2 s lease, the
local cluster with two hollow agents)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from crds.errors import ConflictError
from crds.kinds.environment import Environment
from hack.chaos.stack import Stack
from hack.chaos.workload import environment, sample_manifests
from store.api import Store

pytestmark = pytest.mark.slow
CYCLES = 10
KILLS = {2: "leader", 6: "follower"}
"""Cycle -> the etcd member killed while that cycle's START is asked."""


async def set_state(store: Store, state: str) -> None:
    while True:
        env = await store.get(Environment, "hollow")
        try:
            await store.update(
                env.model_copy(update={"spec": env.spec.model_copy(update={"state": state})})
            )
            return
        except ConflictError:
            continue


async def settled(store: Store, state: str, *, within: float = 60.0) -> Environment:
    async with asyncio.timeout(within):
        while True:
            env = await store.get(Environment, "hollow")
            if env.status.state == state and env.status.transition is None:
                return env
            await asyncio.sleep(0.1)


async def kill_and_restart(stack: Stack, which: str) -> str:
    leader = await asyncio.to_thread(stack.etcd_leader)
    assert leader is not None
    index = leader if which == "leader" else (leader + 1) % 3
    member = stack.etcd[index]
    member.kill_sync()
    await asyncio.sleep(2.0)  # down for a while, transitions keep being asked
    await stack.restart_member(index)
    return member.name


async def test_losing_an_etcd_member_under_load_needs_no_controller_restart_and_loses_nothing(
    tmp_path: Path,
) -> None:
    stack = Stack(tmp_path / "stack")
    try:
        await stack.start(real=0, hollow=2)
        store = stack.store
        assert store is not None
        for obj in sample_manifests():
            await store.create(obj)
        await store.create(environment("hollow", "bench", ["h00", "h01"]))
        await settled(store, "DEPLOYED")
        managers = {name: m.proc.pid for name, m in stack.managers.items()}
        runs: list[int] = []
        restarts: list[asyncio.Task[str]] = []
        for cycle in range(CYCLES):
            await set_state(store, "RUNNING")
            if cycle in KILLS:
                restarts.append(asyncio.create_task(kill_and_restart(stack, KILLS[cycle])))
            running = await settled(store, "RUNNING")
            assert running.status.run_number is not None
            runs.append(running.status.run_number)
            await set_state(store, "CONFIGURED")
            await settled(store, "CONFIGURED")
        killed = await asyncio.gather(*restarts)  # the leader, then a follower (maybe the same
        assert len(killed) == 2  # member: a restarted leader can win the next election again)
        assert runs == list(range(runs[0], runs[0] + CYCLES)), runs
        alive = {name: m.proc.pid for name, m in stack.managers.items() if m.proc.poll() is None}
        assert alive == managers  # no manager died or had to be started again
        assert all(member.running() for member in stack.etcd)
    finally:
        await stack.close()
