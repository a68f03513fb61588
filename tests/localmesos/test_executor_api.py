"""The agent's executor API, driven by the test itself posing as the executor (the spawned
process is `sleep`, which never subscribes): validation codes, ACKNOWLEDGED, re-subscribe."""

from __future__ import annotations

import base64
import dataclasses
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from localmesos import LocalCluster
from mesosapi.recordio import RecordIODecoder
from tests.localmesos.conftest import FAST
from tests.localmesos.helpers import Json, RawScheduler, task_info

SLEEPER = {"value": "sleep 60"}


class FakeExecutor:
    def __init__(self, url: str, framework_id: str, executor_id: str) -> None:
        self.url = f"{url}/api/v1/executor"
        self.ids = {"framework_id": {"value": framework_id}, "executor_id": {"value": executor_id}}
        self.session = aiohttp.ClientSession()
        self.decoder = RecordIODecoder()
        self.events: list[Json] = []
        self.resp: aiohttp.ClientResponse | None = None

    async def post(self, body: Json) -> int:
        async with self.session.post(self.url, json={**self.ids, **body}) as resp:
            await resp.read()
            return resp.status

    async def subscribe(self, unacknowledged_tasks: list[Json] | None = None) -> None:
        if self.resp is not None:
            self.resp.close()
        body = {
            **self.ids,
            "type": "SUBSCRIBE",
            "subscribe": {
                "unacknowledged_tasks": unacknowledged_tasks or [],
                "unacknowledged_updates": [],
            },
        }
        self.resp = await self.session.post(self.url, json=body)
        assert self.resp.status == 200
        assert "Mesos-Stream-Id" not in self.resp.headers

    async def next(self) -> Json:
        assert self.resp is not None
        while not self.events:
            self.events.extend(self.decoder.feed(await self.resp.content.readany()))
        return self.events.pop(0)

    async def update(self, task_id: str, state: str, **extra: Any) -> int:
        status = {
            "task_id": {"value": task_id},
            "state": state,
            "source": "SOURCE_EXECUTOR",
            "uuid": base64.b64encode(uuid.uuid4().bytes).decode(),
            **extra,
        }
        return await self.post({"type": "UPDATE", "update": {"status": status}})

    async def close(self) -> None:
        if self.resp is not None:
            self.resp.close()
        await self.session.close()


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[tuple[LocalCluster, RawScheduler, FakeExecutor]]:
    async with LocalCluster(agents=1, timers=FAST, work_dir=tmp_path) as cluster:
        sched = RawScheduler(cluster.url)
        await sched.subscribe()
        offer = (await sched.offers())[0]
        await sched.accept(offer, [task_info(t, offer, command=SLEEPER) for t in ("a", "b")])
        agent = cluster.agent(offer["agent_id"]["value"])
        await cluster.wait_for(lambda: all(e.pid for e in agent.executors.values()))
        fake = FakeExecutor(f"http://127.0.0.1:{agent.port}", sched.framework_id or "", "exec")
        try:
            yield cluster, sched, fake
        finally:
            await fake.close()
            await sched.close()


async def test_calls_before_subscribe_are_forbidden_and_unknown_executors_rejected(
    setup: tuple[LocalCluster, RawScheduler, FakeExecutor],
) -> None:
    _, _, fake = setup
    assert await fake.update("a", "TASK_RUNNING") == 403
    stranger = FakeExecutor(fake.url.removesuffix("/api/v1/executor"), "nope", "exec")
    try:
        assert await stranger.update("a", "TASK_RUNNING") == 400
    finally:
        await stranger.close()


async def test_subscribe_delivers_queued_launches_and_updates_are_acknowledged_at_once(
    setup: tuple[LocalCluster, RawScheduler, FakeExecutor],
) -> None:
    _, sched, fake = setup
    await fake.subscribe()
    subscribed = await fake.next()
    assert subscribed["type"] == "SUBSCRIBED"
    assert subscribed["subscribed"]["executor_info"]["executor_id"] == {"value": "exec"}
    assert subscribed["subscribed"]["framework_info"]["id"] == {"value": sched.framework_id}
    launched = [(await fake.next())["launch"]["task"]["task_id"]["value"] for _ in range(2)]
    assert launched == ["a", "b"]
    assert await fake.update("a", "TASK_STAGING") == 400
    assert await fake.update("a", "TASK_RUNNING", uuid="c2hvcnQ=") == 400
    assert await fake.update("a", "TASK_RUNNING", source="SOURCE_AGENT") == 400
    assert await fake.update("a", "TASK_RUNNING") == 202
    acked = await fake.next()
    assert acked["type"] == "ACKNOWLEDGED" and acked["acknowledged"]["task_id"] == {"value": "a"}
    assert (await sched.next_update("a"))["state"] == "TASK_RUNNING"


async def test_resubscribe_never_relaunches_and_loses_unknown_staging_tasks(
    setup: tuple[LocalCluster, RawScheduler, FakeExecutor],
) -> None:
    _, sched, fake = setup
    await fake.subscribe()
    for _ in range(3):  # SUBSCRIBED, LAUNCH a, LAUNCH b
        await fake.next()
    await fake.update("a", "TASK_RUNNING")
    await fake.subscribe(unacknowledged_tasks=[])
    assert (await fake.next())["type"] == "SUBSCRIBED"
    assert (await sched.next_update("a"))["state"] == "TASK_RUNNING"
    lost = await sched.next_update("b")
    assert lost["state"] == "TASK_LOST" and lost["source"] == "SOURCE_AGENT"
    assert await fake.post({"type": "MESSAGE", "message": {"data": "aGk="}}) == 202
    message = await sched.next(lambda e: e["type"] == "MESSAGE")
    assert message["message"]["data"] == "aGk="


async def test_kill_before_the_executor_subscribes_kills_during_launch(
    setup: tuple[LocalCluster, RawScheduler, FakeExecutor],
) -> None:
    cluster, sched, _ = setup
    for tid in ("a", "b"):
        await sched.call({"type": "KILL", "kill": {"task_id": {"value": tid}}})
        status = await sched.next_update(tid)
        assert status["state"] == "TASK_KILLED"
        assert status["reason"] == "REASON_TASK_KILLED_DURING_LAUNCH" and "uuid" in status
    agent = cluster.agents[0]
    await cluster.wait_for(lambda: not agent.executors)  # no tasks left: it was shut down


async def test_executor_that_never_subscribes_times_out(tmp_path: Path) -> None:
    timers = dataclasses.replace(FAST, executor_registration_timeout=0.3)
    async with LocalCluster(agents=1, timers=timers, work_dir=tmp_path) as cluster:
        sched = RawScheduler(cluster.url)
        try:
            await sched.subscribe()
            offer = (await sched.offers())[0]
            await sched.accept(offer, [task_info("a", offer, command=SLEEPER)])
            status = await sched.next_update("a")
            assert status["state"] == "TASK_FAILED"
            assert status["reason"] == "REASON_EXECUTOR_REGISTRATION_TIMEOUT"
        finally:
            await sched.close()
