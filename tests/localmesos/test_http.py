"""HTTP surface: status codes of the scheduler API, operator JSON shapes, /files/read."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from localmesos import LocalCluster, Timers
from tests.localmesos.helpers import RawScheduler, task_info


async def _post(url: str, body: object, *, headers: dict[str, str] | None = None) -> int:
    async with (
        aiohttp.ClientSession() as http,
        http.post(url, json=body, headers=headers or {}) as resp,
    ):
        await resp.read()
        return resp.status


async def _get(url: str) -> tuple[int, object]:
    async with aiohttp.ClientSession() as http, http.get(url, allow_redirects=False) as resp:
        body = await resp.json() if resp.content_type == "application/json" else await resp.text()
        return resp.status, body


async def test_scheduler_calls_are_checked_like_mesos(
    cluster: LocalCluster, scheduler: RawScheduler
) -> None:
    api = f"{cluster.url}/api/v1/scheduler"
    subscribe = {"type": "SUBSCRIBE", "subscribe": {"framework_info": {"user": "u", "name": "n"}}}
    assert await _post(api, subscribe, headers={"Mesos-Stream-Id": "x"}) == 400
    assert await _post(api, {"type": "REVIVE", "framework_id": {"value": "nope"}}) == 400
    await scheduler.subscribe()
    fid = {"value": scheduler.framework_id}
    assert await _post(api, {"type": "REVIVE", "framework_id": fid}) == 400  # no stream id
    assert await scheduler.call({"type": "REQUEST", "request": {"requests": []}}) == 202
    assert await scheduler.call({"type": "NO_SUCH_CALL"}) == 501
    async with (
        aiohttp.ClientSession() as http,
        http.post(api, data=b"{not json", headers={"Content-Type": "application/json"}) as resp,
    ):
        assert resp.status == 400


async def test_subscribe_without_user_is_refused_with_error_event(cluster: LocalCluster) -> None:
    sched = RawScheduler(cluster.url)
    sched.info.pop("user")
    try:
        assert (await sched.subscribe())["type"] == "ERROR"
    finally:
        await sched.close()


async def test_version_state_and_slaves_have_the_mesos_shapes(
    cluster: LocalCluster, scheduler: RawScheduler
) -> None:
    await scheduler.subscribe()
    offer = (await scheduler.offers())[0]
    await scheduler.accept(offer, [task_info("t1", offer)])
    await scheduler.next_update("t1", state="TASK_RUNNING")
    status, version = await _get(f"{cluster.url}/version")
    assert status == 200 and isinstance(version, dict) and version["version"] == "1.11.0"
    _, state = await _get(f"{cluster.url}/master/state")
    assert isinstance(state, dict)
    for key in (
        "version",
        "id",
        "pid",
        "hostname",
        "activated_slaves",
        "leader",
        "slaves",
        "frameworks",
        "completed_frameworks",
        "unregistered_frameworks",
        "flags",
    ):
        assert key in state
    fw = state["frameworks"][0]
    assert fw["id"] == scheduler.framework_id and fw["active"] and fw["connected"]
    task = fw["tasks"][0]
    assert {k: task[k] for k in ("id", "state", "slave_id", "executor_id")} == {
        "id": "t1",
        "state": "TASK_RUNNING",
        "slave_id": offer["agent_id"]["value"],
        "executor_id": "exec",
    }
    assert [s["state"] for s in task["statuses"]] == ["TASK_RUNNING"]
    assert "data" not in task["statuses"][0]
    _, slaves = await _get(f"{cluster.url}/master/slaves")
    assert isinstance(slaves, dict)
    agent = slaves["slaves"][0]
    assert agent["resources"]["ports"] == "[31000-31999]" and agent["active"] is True
    assert agent["pid"].startswith("slave(1)@127.0.0.1:")
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{cluster.url}/api/v1", json={"type": "GET_AGENTS"}) as resp,
    ):
        agents = (await resp.json())["get_agents"]["agents"]
    assert len(agents) == 2 and agents[0]["agent_info"]["id"]["value"] == cluster.agent_ids[0]
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{cluster.url}/api/v1", json={"type": "GET_TASKS"}) as resp:
            tasks = (await resp.json())["get_tasks"]["tasks"]
        async with http.post(f"{cluster.url}/api/v1", json={"type": "GET_FRAMEWORKS"}) as resp:
            frameworks = (await resp.json())["get_frameworks"]["frameworks"]
    assert [(t["task_id"]["value"], t["state"]) for t in tasks] == [("t1", "TASK_RUNNING")]
    assert frameworks[0]["framework_info"]["id"] == {"value": scheduler.framework_id}


async def test_redirect_points_at_the_leader(cluster: LocalCluster) -> None:
    status, _ = await _get(f"{cluster.url}/master/redirect")
    assert status == 307


async def test_files_read_serves_sandbox_files_only(cluster: LocalCluster, tmp_path: Path) -> None:
    log = tmp_path / "slaves" / "x" / "stdout"
    log.parent.mkdir(parents=True)
    log.write_text("0123456789")
    status, body = await _get(f"{cluster.url}/files/read?path={log}&offset=-1")
    assert (status, body) == (200, {"data": "", "offset": 10})
    status, body = await _get(f"{cluster.url}/files/read?path={log}&offset=4&length=3")
    assert (status, body) == (200, {"data": "456", "offset": 4})
    status, _ = await _get(f"{cluster.url}/files/read?path=/etc/passwd&offset=0")
    assert status == 404
    status, listing = await _get(f"{cluster.url}/files/browse?path={log.parent}")
    assert status == 200 and isinstance(listing, list) and listing[0]["size"] == 10


async def test_control_api_partitions_restores_and_reports_agents(
    cluster: LocalCluster, scheduler: RawScheduler
) -> None:
    await scheduler.subscribe()
    agent_id = cluster.agent_ids[0]
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{cluster.url}/localmesos/agents/{agent_id}/partition") as resp:
            assert (await resp.json()) == {"agent_id": agent_id, "reachable": False}
        failure = await scheduler.next(lambda e: e["type"] == "FAILURE")
        assert failure["failure"] == {"agent_id": {"value": agent_id}}
        _, slaves = await _get(f"{cluster.url}/master/slaves")
        assert isinstance(slaves, dict)
        assert [s["id"] for s in slaves["slaves"]] == cluster.agent_ids[1:]
        async with http.post(f"{cluster.url}/localmesos/agents/{agent_id}/restore") as resp:
            assert (await resp.json())["reachable"] is True
        async with http.post(f"{cluster.url}/localmesos/agents/{agent_id}/restart") as resp:
            assert resp.status == 200
        url = f"{cluster.url}/localmesos/agents/{agent_id}/executors/nope/kill"
        async with http.post(url) as resp:
            assert resp.status == 404
        async with http.get(f"{cluster.url}/localmesos/state") as resp:
            state = await resp.json()
    assert [a["reachable"] for a in state["agents"]] == [True, True]


async def test_heartbeats_keep_coming_at_the_configured_interval(tmp_path: Path) -> None:
    timers = Timers(heartbeat_interval=0.05)
    async with LocalCluster(agents=0, hollow_agents=1, timers=timers, work_dir=tmp_path) as c:
        sched = RawScheduler(c.url)
        try:
            await sched.subscribe()
            for _ in range(3):
                await sched.next(lambda e: e["type"] == "HEARTBEAT", within=2)
        finally:
            await sched.close()
