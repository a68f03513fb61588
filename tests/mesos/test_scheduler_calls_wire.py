"""SchedulerClient's calls on the wire, against a scripted master: the exact ACK request (headers,
body), and what ACKs do when the master refuses one, redirects, or drops the connection."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from aiohttp import web

from controller.mesos import SchedulerClient
from crds.errors import MesosCallError, MesosUnavailableError
from mesosapi import recordio
from mesosapi.auth import Credentials, MesosAccess
from mesosapi.models import AgentId, FrameworkId, TaskId, TaskStatus
from mesosapi.scheduler import Acknowledge, Subscribed, encode_call, encode_event
from tests.mesos.scenario import new_client

pytestmark = pytest.mark.timeout(30)

FID = FrameworkId("fw-wire")


@dataclass
class ScriptedMaster:
    """SUBSCRIBE gets a stream with one SUBSCRIBED; a call's answer depends on its task id:
    `t-400` refused, `t-307` redirected, `t-drop` has its connection closed; others 202."""

    calls: list[tuple[dict[str, str], dict[str, object]]] = field(default_factory=list)
    closing: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        if body["type"] == "SUBSCRIBE":
            return await self._stream(request)
        self.calls.append((dict(request.headers), body))
        task = str(body.get("acknowledge", {}).get("task_id", {}).get("value", ""))
        if task == "t-400":
            return web.Response(status=400, text="Unknown task")
        if task == "t-307":
            return web.Response(status=307, headers={"Location": "//127.0.0.1:1/master"})
        if task == "t-drop":
            assert request.transport is not None
            request.transport.close()
        return web.Response(status=202)

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Mesos-Stream-Id": "stream-7"})
        resp.content_type = "application/json"
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        event = Subscribed(framework_id=FID, heartbeat_interval_seconds=15.0)
        await resp.write(recordio.encode(encode_event(event)))
        await self.closing.wait()
        return resp


@contextlib.asynccontextmanager
async def scripted(
    access: MesosAccess | None = None,
) -> AsyncIterator[tuple[ScriptedMaster, SchedulerClient]]:
    master = ScriptedMaster()
    app = web.Application()
    app.router.add_post("/api/v1/scheduler", master.handle)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    client = new_client(f"127.0.0.1:{port}", access=access)
    try:
        async with client:
            async with asyncio.timeout(10):
                await client.wait_subscribed()
            yield master, client
    finally:
        master.closing.set()
        await runner.cleanup()


def status(task: str) -> TaskStatus:
    return TaskStatus(
        task_id=TaskId(task), state="TASK_RUNNING", agent_id=AgentId("a-1"), uuid=b"u" * 16
    )


async def test_an_ack_request_carries_the_stream_id_auth_and_the_model_body() -> None:
    access = MesosAccess(credentials=Credentials("o2", "secret"))
    async with scripted(access) as (master, client):
        assert await client.acknowledge(status("t-1"))
    headers, body = master.calls[0]
    ack = Acknowledge(agent_id=AgentId("a-1"), task_id=TaskId("t-1"), uuid=b"u" * 16)
    assert body == json.loads(json.dumps(encode_call(ack, framework_id=FID)))
    assert headers["Mesos-Stream-Id"] == "stream-7"
    assert headers["Authorization"] == Credentials("o2", "secret").authorization()
    assert headers["Content-Type"] == "application/json"
    assert headers["Accept"] == "application/json"
    assert int(headers["Content-Length"]) == len(json.dumps(body))


async def test_a_refused_or_redirected_ack_is_a_call_error_naming_the_status() -> None:
    """Calls never follow a redirect (the subscription does): the caller sees the 307."""
    async with scripted() as (_, client):
        with pytest.raises(MesosCallError, match="ACKNOWLEDGE: HTTP 400 Unknown task") as e400:
            await client.acknowledge(status("t-400"))
        with pytest.raises(MesosCallError) as e307:
            await client.acknowledge(status("t-307"))
        assert await client.acknowledge(status("t-2"))
    assert (e400.value.status, e307.value.status) == (400, 307)


async def test_a_dropped_connection_fails_that_ack_as_unavailable_and_the_next_goes_through() -> (
    None
):
    async with scripted() as (master, client):
        with pytest.raises(MesosUnavailableError, match="ACKNOWLEDGE failed"):
            await client.acknowledge(status("t-drop"))
        assert await client.acknowledge(status("t-3"))
    assert [c[1]["acknowledge"]["task_id"]["value"] for c in master.calls] == ["t-drop", "t-3"]  # type: ignore[index]


async def test_ack_pool_drops_refused_and_broken_acks_and_sends_the_rest_of_a_burst(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The contract: an ACK lost in a burst is dropped (logged), Mesos re-sends its update."""
    tasks = [f"t-{i}" for i in range(40)] + ["t-400", "t-drop", "t-307"]
    async with scripted() as (master, client):
        with caplog.at_level(logging.INFO, logger="controller.mesos.client"):
            for task in tasks:
                client.acknowledge_soon(status(task))
            async with asyncio.timeout(10):
                await client.drain_acks()
    sent = sorted(c[1]["acknowledge"]["task_id"]["value"] for c in master.calls)  # type: ignore[index]
    assert sent == sorted(tasks)
    dropped = [r for r in caplog.records if r.getMessage().startswith("ACK dropped")]
    assert len(dropped) == 3
