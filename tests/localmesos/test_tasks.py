"""Task lifecycle on hollow agents: launch, kill, status update ack/retry, reconcile, messages."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pytest

from localmesos import DefaultResponder, HollowContext, LocalCluster
from tests.localmesos.conftest import FAST
from tests.localmesos.helpers import RawScheduler, task_info


async def _launch(sched: RawScheduler, *task_ids: str) -> tuple[str, list[str]]:
    await sched.subscribe()
    offer = (await sched.offers())[0]
    await sched.accept(offer, [task_info(t, offer) for t in task_ids])
    return offer["agent_id"]["value"], list(task_ids)


async def test_launched_task_runs_and_kill_reports_killed(scheduler: RawScheduler) -> None:
    await _launch(scheduler, "t1")
    running = await scheduler.next_update("t1")
    assert running["state"] == "TASK_RUNNING"
    assert running["source"] == "SOURCE_EXECUTOR"
    assert running["executor_id"] == {"value": "exec"} and "uuid" in running
    assert await scheduler.call({"type": "KILL", "kill": {"task_id": {"value": "t1"}}}) == 202
    assert (await scheduler.next_update("t1"))["state"] == "TASK_KILLED"


async def test_unacknowledged_update_is_retried_and_next_one_held_back(
    cluster: LocalCluster,
) -> None:
    sched = RawScheduler(cluster.url, auto_ack=False)
    try:
        await _launch(sched, "t1")
        first = await sched.next_update("t1")
        await sched.call({"type": "KILL", "kill": {"task_id": {"value": "t1"}}})
        retried = await sched.next_update("t1")  # the retry timer resends the same head
        assert retried["state"] == "TASK_RUNNING" and retried["uuid"] == first["uuid"]
        agent_task = cluster.state()["agents"]
        pending = next(t["pending_updates"] for a in agent_task for t in a["tasks"])
        assert [u["state"] for u in pending] == ["TASK_RUNNING", "TASK_KILLED"]
        assert not any(
            e["update"]["status"]["state"] == "TASK_KILLED"
            for e in sched.events
            if e["type"] == "UPDATE"
        )

        await sched.acknowledge({**first, "uuid": "AAAAAAAAAAAAAAAAAAAAAA=="})  # wrong uuid
        assert (await sched.next_update("t1"))["state"] == "TASK_RUNNING"  # still the head
        await sched.acknowledge(first)
        killed = await sched.next_update("t1", state="TASK_KILLED")
        await sched.acknowledge(killed)
        await sched.acknowledge(killed)  # a duplicate ACK is ignored
        fw = cluster.master.frameworks[sched.framework_id or ""]
        assert "t1" not in fw.tasks and [t.task_id for t in fw.completed_tasks] == ["t1"]
    finally:
        await sched.close()


async def test_retries_keep_one_master_status_per_state_as_mesos_update_task(
    cluster: LocalCluster,
) -> None:
    """Mesos' master replaces a task's last status when an update repeats its state (a retry),
    so a task's statuses stay one per state however long its ACK takes."""
    sched = RawScheduler(cluster.url, auto_ack=False)
    try:
        await _launch(sched, "t1")
        first = await sched.next_update("t1")
        for _ in range(2):
            assert (await sched.next_update("t1"))["uuid"] == first["uuid"]  # retried
        task = cluster.master.frameworks[sched.framework_id or ""].tasks["t1"]
        assert [s["state"] for s in task.statuses] == ["TASK_RUNNING"]
        await sched.acknowledge(first)
        await sched.call({"type": "KILL", "kill": {"task_id": {"value": "t1"}}})
        killed = await sched.next_update("t1", state="TASK_KILLED")
        assert (await sched.next_update("t1"))["uuid"] == killed["uuid"]  # retried
        assert [s["state"] for s in task.statuses] == ["TASK_RUNNING", "TASK_KILLED"]
        assert all("data" not in s for s in task.statuses)
    finally:
        await sched.close()


async def test_invalid_task_gets_task_error_from_master(scheduler: RawScheduler) -> None:
    await scheduler.subscribe()
    offer = (await scheduler.offers())[0]
    greedy = task_info("big", offer, cpus=1000.0)
    await scheduler.accept(offer, [greedy])
    status = await scheduler.next_update("big")
    assert status["state"] == "TASK_ERROR" and status["reason"] == "REASON_TASK_INVALID"
    assert status["source"] == "SOURCE_MASTER" and "uuid" not in status


async def test_accept_of_a_used_offer_gives_task_lost_invalid_offers(
    scheduler: RawScheduler,
) -> None:
    await scheduler.subscribe()
    offer = (await scheduler.offers())[0]
    await scheduler.accept(offer, [task_info("a", offer)])
    assert await scheduler.accept(offer, [task_info("b", offer)]) == 202
    lost = await scheduler.next_update("b")
    assert lost["state"] == "TASK_LOST" and lost["reason"] == "REASON_INVALID_OFFERS"


async def test_reconcile_reports_latest_state_and_unknown_tasks(scheduler: RawScheduler) -> None:
    agent_id, _ = await _launch(scheduler, "t1")
    await scheduler.next_update("t1", state="TASK_RUNNING")
    await scheduler.call({"type": "RECONCILE", "reconcile": {"tasks": []}})
    implicit = await scheduler.next_update("t1")
    assert implicit["state"] == "TASK_RUNNING"
    assert implicit["reason"] == "REASON_RECONCILIATION" and "uuid" not in implicit
    tasks = [
        {"task_id": {"value": "t1"}},
        {"task_id": {"value": "ghost"}, "agent_id": {"value": agent_id}},
    ]
    await scheduler.call({"type": "RECONCILE", "reconcile": {"tasks": tasks}})
    assert (await scheduler.next_update("t1"))["state"] == "TASK_RUNNING"
    assert (await scheduler.next_update("ghost"))["state"] == "TASK_LOST"


async def test_partition_aware_framework_gets_gone_and_unknown(cluster: LocalCluster) -> None:
    sched = RawScheduler(cluster.url, capabilities=("PARTITION_AWARE",))
    try:
        await sched.subscribe()
        tasks = [
            {"task_id": {"value": "g"}, "agent_id": {"value": cluster.agent_ids[0]}},
            {"task_id": {"value": "u"}, "agent_id": {"value": "no-such-agent"}},
        ]
        await sched.call({"type": "RECONCILE", "reconcile": {"tasks": tasks}})
        assert (await sched.next_update("g"))["state"] == "TASK_GONE"
        assert (await sched.next_update("u"))["state"] == "TASK_UNKNOWN"
    finally:
        await sched.close()


async def test_kill_of_unknown_task_answers_with_reconciliation(scheduler: RawScheduler) -> None:
    await scheduler.subscribe()
    await scheduler.call({"type": "KILL", "kill": {"task_id": {"value": "nope"}}})
    status = await scheduler.next_update("nope")
    assert status["state"] == "TASK_LOST" and status["reason"] == "REASON_RECONCILIATION"


class EchoResponder(DefaultResponder):
    def on_message(self, ctx: HollowContext, data: bytes) -> None:
        ctx.send_message(b"echo:" + data + b":" + ",".join(sorted(ctx.tasks)).encode())


async def test_framework_messages_reach_hollow_responder_and_come_back(tmp_path: Path) -> None:
    async with LocalCluster(
        agents=0, hollow_agents=1, timers=FAST, work_dir=tmp_path, hollow_responder=EchoResponder
    ) as cluster:
        sched = RawScheduler(cluster.url)
        try:
            agent_id, _ = await _launch(sched, "t1")
            await sched.next_update("t1", state="TASK_RUNNING")
            await sched.call(
                {
                    "type": "MESSAGE",
                    "message": {
                        "agent_id": {"value": agent_id},
                        "executor_id": {"value": "exec"},
                        "data": "aGk=",
                    },
                }
            )
            event = await sched.next(lambda e: e["type"] == "MESSAGE")
            assert event["message"]["data"] == "ZWNobzpoaTp0MQ=="  # b"echo:hi:t1"
            assert event["message"]["executor_id"] == {"value": "exec"}
        finally:
            await sched.close()


async def test_shutdown_call_stops_hollow_executor_and_kills_its_tasks(
    scheduler: RawScheduler, cluster: LocalCluster
) -> None:
    agent_id, _ = await _launch(scheduler, "t1")
    await scheduler.next_update("t1", state="TASK_RUNNING")
    await scheduler.call(
        {
            "type": "SHUTDOWN",
            "shutdown": {"agent_id": {"value": agent_id}, "executor_id": {"value": "exec"}},
        }
    )
    assert (await scheduler.next_update("t1"))["state"] == "TASK_KILLED"
    failure = await scheduler.next(lambda e: e["type"] == "FAILURE")
    assert failure["failure"]["executor_id"] == {"value": "exec"}
    assert cluster.agent(agent_id).executors == {}


async def test_thousands_of_tasks_run_on_hollow_agents(tmp_path: Path) -> None:
    timers = dataclasses.replace(FAST, update_retry_initial=30.0)  # no retries: exact counts
    async with LocalCluster(
        agents=0, hollow_agents=20, timers=timers, work_dir=tmp_path
    ) as cluster:
        sched = RawScheduler(cluster.url)
        try:
            await sched.subscribe()
            launched = 0
            while launched < 3000:
                for offer in await sched.offers():
                    batch = [task_info(f"t{launched + i}", offer) for i in range(150)]
                    launched += len(batch)
                    await sched.accept(offer, batch)
            await sched.wait_acked(3000, within=60)  # 8 s alone; 30+ s under a loaded run
            updates = [e["update"]["status"] for e in sched.events if e["type"] == "UPDATE"]
            assert len(updates) == 3000
            assert {u["state"] for u in updates} == {"TASK_RUNNING"}
            fw = cluster.master.frameworks[sched.framework_id or ""]
            assert len(fw.tasks) == 3000
            assert all(not t.pending for t in fw.tasks.values())  # every update acknowledged
            assert len({t.agent_id for t in fw.tasks.values()}) == 20
        finally:
            await sched.close()


async def test_launch_group_runs_every_task_and_requires_executor_type(
    scheduler: RawScheduler,
) -> None:
    await scheduler.subscribe()
    offer = (await scheduler.offers())[0]
    executor = task_info("x", offer)["executor"]
    tasks = [{k: v for k, v in task_info(t, offer).items() if k != "executor"} for t in "ab"]

    def group(ex: dict[str, object], ids: list[dict[str, object]]) -> dict[str, object]:
        return {
            "type": "LAUNCH_GROUP",
            "launch_group": {"executor": ex, "task_group": {"tasks": ids}},
        }

    bad = [{**t, "task_id": {"value": "bad-" + t["task_id"]["value"]}} for t in tasks]
    await scheduler.call(
        {
            "type": "ACCEPT",
            "accept": {
                "offer_ids": [offer["id"]],
                "filters": {"refuse_seconds": 0},
                "operations": [group(executor, bad), group({**executor, "type": "CUSTOM"}, tasks)],
            },
        }
    )
    for tid in ("bad-a", "bad-b"):
        status = await scheduler.next_update(tid)
        assert status["state"] == "TASK_ERROR"
        assert status["reason"] == "REASON_TASK_GROUP_INVALID"
    assert {(await scheduler.next_update())["task_id"]["value"] for _ in range(2)} == {"a", "b"}


@pytest.mark.slow
async def test_ten_thousand_tasks_on_fifty_hollow_agents(tmp_path: Path) -> None:
    timers = dataclasses.replace(FAST, update_retry_initial=30.0, update_retry_max=60.0)
    async with LocalCluster(
        agents=0, hollow_agents=50, timers=timers, work_dir=tmp_path
    ) as cluster:
        sched = RawScheduler(cluster.url)
        try:
            await sched.subscribe()
            launched = 0
            while launched < 10_000:
                for offer in await sched.offers():
                    batch = [task_info(f"t{launched + i}", offer) for i in range(200)]
                    launched += len(batch)
                    await sched.accept(offer, batch)
            await sched.wait_acked(10_000, within=120)
            fw = cluster.master.frameworks[sched.framework_id or ""]
            assert sum(t.state == "TASK_RUNNING" for t in fw.tasks.values()) == 10_000
        finally:
            await sched.close()


async def test_hollow_executor_delay_postpones_its_replies(tmp_path: Path) -> None:
    timers = dataclasses.replace(FAST, hollow_executor_delay=0.3)
    async with LocalCluster(agents=0, hollow_agents=1, timers=timers, work_dir=tmp_path) as c:
        sched = RawScheduler(c.url)
        try:
            await sched.subscribe()
            offer = (await sched.offers())[0]
            started = time.monotonic()
            await sched.accept(offer, [task_info("slow", offer)])
            await sched.next_update("slow", state="TASK_RUNNING")
            assert time.monotonic() - started >= 0.3
        finally:
            await sched.close()
