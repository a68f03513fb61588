"""Offers: shapes, DECLINE filters, REVIVE, SUPPRESS, RESCIND, and resource accounting."""

from __future__ import annotations

import time
from pathlib import Path

import aiohttp

from localmesos import AgentSpec, LocalCluster
from tests.localmesos.conftest import FAST
from tests.localmesos.helpers import RawScheduler, task_info


async def test_subscribe_gives_subscribed_heartbeat_then_nested_offers(
    scheduler: RawScheduler,
) -> None:
    first = await scheduler.subscribe()
    assert first["type"] == "SUBSCRIBED"
    assert first["subscribed"]["heartbeat_interval_seconds"] == FAST.heartbeat_interval
    assert first["subscribed"]["master_info"]["version"] == "1.11.0"
    assert scheduler.stream_id
    assert (await scheduler.next())["type"] == "HEARTBEAT"
    offers = await scheduler.offers()
    assert len(offers) == 2
    offer = offers[0]
    assert offer["framework_id"] == {"value": scheduler.framework_id}
    by_name = {r["name"]: r for r in offer["resources"]}
    assert by_name["cpus"]["scalar"]["value"] == 4.0
    assert by_name["ports"]["ranges"]["range"] == [{"begin": 31000, "end": 31999}]
    assert all(r["allocation_info"] == {"role": "*"} for r in offer["resources"])


async def test_attributes_are_offered_as_text_and_scalar(tmp_path: Path) -> None:
    spec = AgentSpec(hostname="flp-1", attributes={"detector": "TPC", "machine_id": 7}, hollow=True)
    async with LocalCluster([spec], timers=FAST, work_dir=tmp_path) as cluster:
        sched = RawScheduler(cluster.url)
        try:
            await sched.subscribe()
            offer = (await sched.offers())[0]
            assert offer["hostname"] == "flp-1"
            assert offer["attributes"] == [
                {"name": "detector", "type": "TEXT", "text": {"value": "TPC"}},
                {"name": "machine_id", "type": "SCALAR", "scalar": {"value": 7.0}},
            ]
        finally:
            await sched.close()


async def test_declined_offer_returns_only_after_its_filter_expires(
    scheduler: RawScheduler,
) -> None:
    await scheduler.subscribe()
    offers = await scheduler.offers()
    declined_at = time.monotonic()
    await scheduler.decline(offers[:1], refuse=0.5)
    await scheduler.decline(offers[1:], refuse=60)
    again = await scheduler.offers()
    assert time.monotonic() - declined_at >= 0.5
    assert [o["agent_id"] for o in again] == [offers[0]["agent_id"]]


async def _barrier(scheduler: RawScheduler, tag: str) -> list[dict[str, object]]:
    """Events received before a reconcile answer (the stream is FIFO), consumed."""
    await scheduler.call(
        {"type": "RECONCILE", "reconcile": {"tasks": [{"task_id": {"value": tag}}]}}
    )
    await scheduler.next_update(tag)
    return [e for e in scheduler.events if e["type"] == "OFFERS"]


async def test_revive_clears_filters_and_suppress_stops_offers(
    cluster: LocalCluster, scheduler: RawScheduler
) -> None:
    await scheduler.subscribe()
    offers = await scheduler.offers()
    await scheduler.decline(offers, refuse=60)
    assert await scheduler.call({"type": "REVIVE", "revive": {}}) == 202
    offers = await scheduler.offers()
    assert len(offers) == 2
    assert await scheduler.call({"type": "SUPPRESS", "suppress": {}}) == 202
    await scheduler.decline(offers, refuse=0)
    cluster.master.allocate()
    before = len(await _barrier(scheduler, "barrier-1"))
    cluster.master.allocate()
    assert len(await _barrier(scheduler, "barrier-2")) == before
    assert await scheduler.call({"type": "REVIVE", "revive": {}}) == 202
    assert len(await scheduler.offers()) == 2


async def test_accept_leaves_unused_resources_filtered_and_counts_used(
    cluster: LocalCluster, scheduler: RawScheduler
) -> None:
    await scheduler.subscribe()
    offer = (await scheduler.offers())[0]
    await scheduler.accept(offer, [task_info("t1", offer, cpus=1.0, mem=100)], refuse=60)
    await scheduler.next_update("t1", state="TASK_RUNNING")
    agent = cluster.agent(offer["agent_id"]["value"])
    assert agent.ledger.used.scalars == {"cpus": 1.01, "mem": 132.0}  # task + executor
    assert await scheduler.call({"type": "REVIVE", "revive": {}}) == 202
    reoffer = [o for o in await scheduler.offers() if o["agent_id"] == offer["agent_id"]]
    cpus = {r["name"]: r for r in reoffer[0]["resources"]}["cpus"]["scalar"]["value"]
    assert cpus == 2.99
    assert reoffer[0]["executor_ids"] == [{"value": "exec"}]


async def test_rescinded_offer_cannot_be_accepted(
    cluster: LocalCluster, scheduler: RawScheduler
) -> None:
    await scheduler.subscribe()
    offer = (await scheduler.offers())[0]
    oid = offer["id"]["value"]
    url = f"{cluster.url}/localmesos/offers/{oid}/rescind"
    async with aiohttp.ClientSession() as http, http.post(url) as resp:
        assert resp.status == 200
    rescind = await scheduler.next(lambda e: e["type"] == "RESCIND")
    assert rescind["rescind"]["offer_id"] == {"value": oid}
    await scheduler.accept(offer, [task_info("t1", offer)])
    lost = await scheduler.next_update("t1")
    assert lost["state"] == "TASK_LOST" and lost["reason"] == "REASON_INVALID_OFFERS"


async def test_agent_added_over_the_control_api_is_offered(
    cluster: LocalCluster, scheduler: RawScheduler
) -> None:
    await scheduler.subscribe()
    offers = await scheduler.offers()
    await scheduler.decline(offers, refuse=60)
    body = {
        "hostname": "late-1",
        "resources": {"cpus": 2},
        "attributes": {"rack": "r2"},
        "hollow": True,
    }
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{cluster.url}/localmesos/agents", json=body) as resp:
            assert resp.status == 200
            added = await resp.json()
        async with http.post(f"{cluster.url}/localmesos/agents", json={"bogus": 1}) as resp:
            assert resp.status == 400
    offer = (await scheduler.offers())[0]
    assert offer["agent_id"] == {"value": added["agent_id"]} and offer["hostname"] == "late-1"


async def test_multi_role_framework_is_offered_to_its_role(cluster: LocalCluster) -> None:
    sched = RawScheduler(cluster.url, capabilities=("MULTI_ROLE",))
    sched.info["roles"] = ["o2"]
    try:
        await sched.subscribe()
        offer = (await sched.offers())[0]
        assert offer["allocation_info"] == {"role": "o2"}
        assert {r["allocation_info"]["role"] for r in offer["resources"]} == {"o2"}
    finally:
        await sched.close()
