"""`o2 top` says clearly when the master or the agents cannot be reached or give no statistics
(a fake master on loopback: the cases a real cluster cannot be made to show on purpose)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from store.api import Store
from store.embedded import free_port
from tests.cli.conftest import O2
from tests.cli_ops.conftest import put, run_o2, task_obj

AGENT = "agent-S0"


def state(agent_port: int) -> dict[str, Any]:
    slave = {"id": AGENT, "hostname": "flp-1", "pid": f"slave(1)@127.0.0.1:{agent_port}"}
    return {"slaves": [{**slave, "resources": {"cpus": 4.0, "mem": 8192.0}}]}


async def fake_master(*, agent_answers: bool) -> AsyncIterator[str]:
    """A master listing one agent: on its own port, answering `[]` (as an idle hollow agent
    does), or on a port nobody listens on."""
    port = free_port()
    agent_port = port if agent_answers else free_port()

    async def master_state(_request: web.Request) -> web.Response:
        return web.json_response(state(agent_port))

    async def statistics(_request: web.Request) -> web.Response:
        return web.json_response([])

    app = web.Application()
    app.router.add_get("/master/state", master_state)
    app.router.add_get("/monitor/statistics", statistics)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@pytest.fixture
async def master_with_dead_agent() -> AsyncIterator[str]:
    async for address in fake_master(agent_answers=False):
        yield address


@pytest.fixture
async def master_with_silent_agent() -> AsyncIterator[str]:
    async for address in fake_master(agent_answers=True):
        yield address


async def running_task(store: Store) -> None:
    task = task_obj("readout", env="physics-1", agentId=AGENT, executorId="o2-executor", pid=7)
    await put(store, task)


async def test_an_unreachable_master_is_named_with_what_to_do(o2: O2, etcd_store: Store) -> None:
    await running_task(etcd_store)
    ran = await run_o2(o2, "top", "tasks", "--mesos", f"127.0.0.1:{free_port()}")
    assert ran.exit_code == 1
    assert "cannot reach Mesos at http://127.0.0.1:" in ran.stderr and "--mesos" in ran.stderr
    assert "Traceback" not in ran.stderr


async def test_agents_that_do_not_answer_are_named(
    o2: O2, etcd_store: Store, master_with_dead_agent: str
) -> None:
    ran = await run_o2(o2, "top", "nodes", "--mesos", master_with_dead_agent)
    assert ran.exit_code == 1
    assert "no agent answered GET /monitor/statistics: http://127.0.0.1:" in ran.stderr


async def test_tasks_whose_executors_have_no_statistics_are_an_error(
    o2: O2, etcd_store: Store, master_with_silent_agent: str
) -> None:
    await running_task(etcd_store)
    args = ("--mesos", master_with_silent_agent, "--interval", "0.05")
    ran = await run_o2(o2, "top", "tasks", *args)
    assert ran.exit_code == 1
    assert f"report no statistics for their executors ({AGENT}/o2-executor)" in ran.stderr
    nodes = await run_o2(o2, "top", "nodes", *args)
    assert nodes.exit_code == 0, nodes.stderr
    assert nodes.stdout.splitlines()[1].split()[:5] == ["flp-1", "0.00", "0.0%", "0Ki", "0.0%"]


async def test_no_running_tasks_is_said_not_an_error(o2: O2, etcd_store: Store) -> None:
    ran = await run_o2(o2, "top", "tasks", "-e", "nowhere", "--mesos", f"127.0.0.1:{free_port()}")
    assert ran.exit_code == 0 and ran.stdout == ""
    assert "No running tasks in environment nowhere." in ran.stderr
