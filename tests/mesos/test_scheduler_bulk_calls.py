"""The calls o2 sends in bulk, against a scripted master: RECONCILE and MESSAGE bodies written
without models (the same bytes as the models' JSON), and call deadlines kept without a timer per
call (a late answer still fails the call, and its connection is not reused)."""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import pytest
from aiohttp import web

from controller.mesos import SchedulerClient
from controller.mesos.bodies import encode_message, encode_reconcile
from crds.errors import MesosUnavailableError
from mesosapi import recordio
from mesosapi.backoff import Backoff
from mesosapi.models import AgentId, ExecutorId, FrameworkId, TaskId, TaskStatus
from mesosapi.scheduler import (
    MessageCall,
    Reconcile,
    ReconcileTask,
    Subscribed,
    encode_call_json,
    encode_event,
    framework_info,
)
from tests.waiting import eventually

pytestmark = pytest.mark.timeout(30)

FID = FrameworkId("fw-bulk")
ODD = 'é"\\\x01\n\u2028\x7f/'  # UTF-8, quotes, escapes, controls, a JS line separator
TASKS = [
    (TaskId("t-1"), AgentId("a-1")),
    (TaskId("t-" + ODD), None),
    (TaskId(ODD), AgentId("a-" + ODD)),
]


@pytest.mark.parametrize("framework_id", [FID, FrameworkId("fw-" + ODD), None])
@pytest.mark.parametrize("tasks", [[], TASKS], ids=["implicit", "explicit"])
def test_a_reconcile_body_is_the_models_json_byte_for_byte(
    framework_id: FrameworkId | None, tasks: list[tuple[TaskId, AgentId | None]]
) -> None:
    model = Reconcile(tasks=[ReconcileTask(task_id=t, agent_id=a) for t, a in tasks])
    expected = encode_call_json(model, framework_id=framework_id)
    assert encode_reconcile(tasks, framework_id=framework_id) == expected
    assert encode_reconcile(iter(tasks), framework_id=framework_id) == expected


@pytest.mark.parametrize("framework_id", [FID, None])
@pytest.mark.parametrize("data", [b"", b"\x00\xff{}" * 1000], ids=["empty", "binary"])
def test_a_message_body_is_the_models_json_byte_for_byte(
    framework_id: FrameworkId | None, data: bytes
) -> None:
    agent, executor = AgentId("a-" + ODD), ExecutorId("e-" + ODD)
    model = MessageCall(agent_id=agent, executor_id=executor, data=data)
    assert encode_message(agent, executor, data, framework_id=framework_id) == encode_call_json(
        model, framework_id=framework_id
    )


@dataclass
class Master:
    """SUBSCRIBE gets a stream with one SUBSCRIBED; a call for task `t-stall` is answered only
        once `release` is set (its connection then closes); while `hold` is given, ACKs wait for it
    (counted in `held`); others 202."""

    calls: list[dict[str, object]] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    closing: asyncio.Event = field(default_factory=asyncio.Event)
    peers: set[object] = field(default_factory=set)
    hold: asyncio.Event | None = None
    held: int = 0

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        if body["type"] == "SUBSCRIBE":
            return await self._stream(request)
        self.calls.append(body)
        self.peers.add(request.transport)
        if self.hold is not None and body["type"] == "ACKNOWLEDGE":
            self.held += 1
            await self.hold.wait()
        if '"t-stall"' in json.dumps(body):
            await self.release.wait()
            assert request.transport is not None
            request.transport.close()
        return web.Response(status=202)

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Mesos-Stream-Id": "stream-9"})
        resp.content_type = "application/json"
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        event = Subscribed(framework_id=FID, heartbeat_interval_seconds=15.0)
        await resp.write(recordio.encode(encode_event(event)))
        await self.closing.wait()
        return resp


@contextlib.asynccontextmanager
async def scripted(*, call_timeout: float = 10.0) -> AsyncIterator[tuple[Master, SchedulerClient]]:
    master = Master()
    app = web.Application()
    app.router.add_post("/api/v1/scheduler", master.handle)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    client = SchedulerClient(
        f"127.0.0.1:{port}",
        framework_info("o2-test", user=getpass.getuser()),
        backoff=Backoff(initial=0.2, maximum=1.0),
        call_timeout=call_timeout,
    )
    try:
        async with client:
            async with asyncio.timeout(10):
                await client.wait_subscribed()
            yield master, client
    finally:
        master.release.set()
        master.closing.set()
        await runner.cleanup()


def status(task: str) -> TaskStatus:
    return TaskStatus(
        task_id=TaskId(task), state="TASK_RUNNING", agent_id=AgentId("a-1"), uuid=b"u" * 16
    )


async def test_reconcile_and_message_reach_the_master_as_the_models_json() -> None:
    async with scripted() as (master, client):
        await client.reconcile(TASKS)
        await client.reconcile()
        await client.message(AgentId("a-1"), ExecutorId("e-1"), b"\x00hello")
    explicit = Reconcile(tasks=[ReconcileTask(task_id=t, agent_id=a) for t, a in TASKS])
    message = MessageCall(agent_id=AgentId("a-1"), executor_id=ExecutorId("e-1"), data=b"\x00hello")
    expected = [
        encode_call_json(call, framework_id=FID) for call in (explicit, Reconcile(), message)
    ]
    assert master.calls == [json.loads(body) for body in expected]


@contextlib.contextmanager
def counting_timers(loop: asyncio.AbstractEventLoop) -> Iterator[list[float]]:
    """The deadlines of the timers scheduled on `loop` meanwhile."""
    scheduled: list[float] = []
    call_at = loop.call_at

    def counted(when: float, *args: object, **kwargs: object) -> asyncio.TimerHandle:
        scheduled.append(when)
        return call_at(when, *args, **kwargs)  # type: ignore[arg-type]

    loop.call_at = counted  # type: ignore[method-assign]
    try:
        yield scheduled
    finally:
        del loop.call_at


async def test_calls_over_a_kept_alive_connection_schedule_no_timer_each() -> None:
    """An ACK per status update: a timer scheduled and cancelled for each was measurable. The
    deadlines of calls in flight are swept by one timer, at most a few per call timeout."""
    async with scripted() as (master, client):
        assert await client.acknowledge(status("t-warm"))  # the connection, kept alive
        with counting_timers(asyncio.get_running_loop()) as timers:
            for n in range(100):
                assert await client.acknowledge(status(f"t-{n}"))
    assert len(master.calls) == 101
    assert len(timers) <= 2


async def test_a_call_unanswered_within_the_call_timeout_fails_and_its_connection_goes() -> None:
    """On a kept-alive connection too (the deadline sweep's case): the call fails in about the
    timeout, its connection is not reused (the late answer belongs to no other call), and the
    next call goes through on a new one."""
    async with scripted(call_timeout=0.4) as (master, client):
        assert await client.acknowledge(status("t-warm"))
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(MesosUnavailableError, match="ACKNOWLEDGE failed"):
            await client.acknowledge(status("t-stall"))
        waited = loop.time() - started
        assert 0.35 <= waited <= 1.5
        master.release.set()
        assert await client.acknowledge(status("t-after"))
    assert len(master.peers) == 2


async def test_an_update_resent_while_its_ack_waits_is_acked_once() -> None:
    """Agents resend an update every 10 s until ACKed, and a consumer that ACKs once the
    update is written ACKs each copy: one ACK per update (task and uuid) queued or in flight;
    a copy arriving after that ACK went out gets its own (the first may have been lost)."""
    async with scripted() as (master, client):
        first = status("t-1")
        second = first.model_copy(update={"uuid": b"v" * 16})
        for update in (first, first, second, first, second):
            assert client.acknowledge_soon(update)
        assert client.pending_acks == 2
        async with asyncio.timeout(10):
            await client.drain_acks()
        assert client.acknowledge_soon(first)
        async with asyncio.timeout(10):
            await client.drain_acks()
    u, v = "dXV1dXV1dXV1dXV1dXV1dQ==", "dnZ2dnZ2dnZ2dnZ2dnZ2dg=="  # base64 of 16 u's, 16 v's
    acks = [c["acknowledge"] for c in master.calls]
    assert sorted((a["task_id"]["value"], a["uuid"]) for a in acks) == [  # type: ignore[index]
        ("t-1", u),
        ("t-1", u),
        ("t-1", v),
    ]


async def test_a_burst_of_acks_has_64_in_flight_and_leaves_room_for_other_calls() -> None:
    """A status write of 1,000 tasks lands at once and queues 1,000 ACKs: a busy master answers
    each in its own time, and with few in flight the last ones waited past the agents' 10 s
    resend. 64 go at once, and a MESSAGE still finds a free connection meanwhile."""
    async with scripted() as (master, client):
        master.hold = asyncio.Event()
        for n in range(100):
            assert client.acknowledge_soon(status(f"t-{n}"))
        await eventually(lambda: master.held, until=lambda held: held >= 64, within=10)
        await asyncio.sleep(0.1)  # no 65th
        assert master.held == 64
        async with asyncio.timeout(10):
            await client.message(AgentId("a-1"), ExecutorId("e-1"), b"meanwhile")
            master.hold.set()
            await client.drain_acks()
    assert len(master.calls) == 101
