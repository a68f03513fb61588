"""The cluster process runs the garbage collector rarely: every task keeps tens of container
objects here, and CPython's default thresholds made the cluster's CPU per task grow with the
task count (full passes over the whole heap each time it grew a quarter)."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest

import localmesos.__main__ as entry
from localmesos import calls
from localmesos.agent import Agent
from localmesos.config import AgentSpec, Timers
from localmesos.master import Master
from localmesos.model import Json
from procutil.gc import LONG_LIVED_THRESHOLDS
from tests.waiting import eventually


@pytest.fixture
def restored_gc() -> Iterator[None]:
    thresholds = gc.get_threshold()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)


def test_the_cluster_process_tunes_the_collector_before_it_serves(
    monkeypatch: pytest.MonkeyPatch, restored_gc: None
) -> None:
    order: list[str] = []
    monkeypatch.setattr(entry, "tune_gc", lambda: order.append("tune_gc"))

    def run(coro: Coroutine[Any, Any, None]) -> None:
        coro.close()
        order.append("serve")

    monkeypatch.setattr(asyncio, "run", run)
    assert entry.main(["--agents", "0", "--hollow-agents", "1", "--log-level", "WARNING"]) == 0
    assert order == ["tune_gc", "serve"]


async def test_launching_thousands_of_tasks_runs_no_full_collection(
    tmp_path: Path, restored_gc: None
) -> None:
    freezer = entry.tune_gc()
    assert gc.get_threshold() == LONG_LIVED_THRESHOLDS
    master = Master(timers=Timers(), host="127.0.0.1")
    master.request_allocation = lambda: None  # type: ignore[method-assign]
    for i in range(20):
        spec = AgentSpec(hostname=f"flp-{i}", hollow=True, cpus=64, mem=65536)
        agent = Agent(master, spec, index=i + 1, work_dir=tmp_path)
        master.agents[agent.agent_id] = agent
    fw, _ = master.subscribe({"subscribe": {"framework_info": {"user": "u", "name": "n"}}})
    events: list[Json] = []
    fw.send = events.append  # type: ignore[method-assign,assignment]
    full: list[int] = []

    def note(phase: str, info: dict[str, int]) -> None:
        if phase == "stop" and info["generation"] == 2:
            full.append(1)

    gc.callbacks.append(note)
    try:
        master.allocate()
        offers = [o for e in events if e["type"] == "OFFERS" for o in e["offers"]["offers"]]
        for offer in offers:
            calls.handle_call(master, fw, _launch(offer, 250))
        running = [t for a in master.agents.values() for t in a.tasks.values()]
        assert len(running) == 5000
        # the hollow executors' TASK_RUNNING updates
        await eventually(lambda: all(t.state == "TASK_RUNNING" for t in running))
    finally:
        gc.callbacks.remove(note)
        freezer.stop()
    assert full == []  # CPython's defaults ran several over the whole heap


def _launch(offer: Json, count: int) -> Json:
    def scalar(name: str, value: float) -> Json:
        return {"name": name, "type": "SCALAR", "scalar": {"value": value}}

    agent = offer["agent_id"]["value"]
    infos = [
        {
            "task_id": {"value": f"{agent}-{k}"},
            "name": f"task-{k}",
            "agent_id": offer["agent_id"],
            "labels": {"labels": [{"key": f"k{j}", "value": "v"} for j in range(4)]},
            "resources": [scalar("cpus", 0.1), scalar("mem", 64)],
            "executor": {
                "executor_id": {"value": "o2"},
                "command": {"value": "o2-executor"},
                "resources": [scalar("cpus", 0.1), scalar("mem", 32)],
            },
        }
        for k in range(count)
    ]
    return {
        "type": "ACCEPT",
        "accept": {
            "offer_ids": [offer["id"]],
            "operations": [{"type": "LAUNCH", "launch": {"task_infos": infos}}],
        },
    }
