"""An ACCEPT's launches parse each task's resources once (validation and the Task share them):
a 50,000-task DEPLOY sends 50,000 TaskInfos through the local cluster. What gets launched,
and what is left over, stay Mesos'."""

from __future__ import annotations

from pathlib import Path

import pytest

from localmesos import calls
from localmesos.agent import Agent
from localmesos.config import AgentSpec, Timers
from localmesos.master import Master
from localmesos.model import Json
from localmesos.resources import Resources

TASKS = 20


def _task(n: int, agent_id: str) -> Json:
    return {
        "name": f"t-{n}",
        "task_id": {"value": f"t-{n}"},
        "agent_id": {"value": agent_id},
        "resources": [
            {"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.1}},
            {"name": "mem", "type": "SCALAR", "scalar": {"value": 16}},
            {
                "name": "ports",
                "type": "RANGES",
                "ranges": {"range": [{"begin": 31000 + n, "end": 31000 + n}]},
            },
        ],
        "executor": {
            "executor_id": {"value": "x-1"},
            "type": "CUSTOM",
            "command": {"value": "true"},
            "resources": [
                {"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.1}},
                {"name": "mem", "type": "SCALAR", "scalar": {"value": 32}},
            ],
        },
    }


async def test_an_accept_parses_each_tasks_resources_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    master = Master(timers=Timers(), host="127.0.0.1")
    master.request_allocation = lambda: None  # type: ignore[method-assign]
    spec = AgentSpec(hostname="flp-1", hollow=True, ports="[31000-31999]")
    agent = Agent(master, spec, index=1, work_dir=tmp_path)
    master.agents[agent.agent_id] = agent
    fw, _ = master.subscribe({"subscribe": {"framework_info": {"user": "u", "name": "n"}}})
    events: list[Json] = []
    fw.send = events.append  # type: ignore[method-assign,assignment]
    master.allocate()
    offers = [o for e in events if e["type"] == "OFFERS" for o in e["offers"]["offers"]]
    assert len(offers) == 1
    offered = Resources.from_json(offers[0]["resources"])

    parsed: list[object] = []
    from_json = Resources.from_json.__func__  # type: ignore[attr-defined]

    def counted(cls: type[Resources], items: list[Json] | None) -> Resources:
        parsed.append(items)
        return from_json(cls, items)  # type: ignore[no-any-return]

    monkeypatch.setattr(Resources, "from_json", classmethod(counted))
    infos = [_task(n, agent.agent_id) for n in range(TASKS)]
    launch = {"type": "LAUNCH", "launch": {"task_infos": infos}}
    body = {
        "offer_ids": [offers[0]["id"]],
        "operations": [launch],
        "filters": {"refuse_seconds": 60},
    }
    assert calls.handle_call(master, fw, {"type": "ACCEPT", "accept": body}) == 202
    monkeypatch.undo()

    assert sorted(fw.tasks) == sorted(f"t-{n}" for n in range(TASKS))
    # each task's once; the new executor's by the validation and by the Executor it starts
    assert len(parsed) == TASKS + 2
    used = Resources()
    for task in fw.tasks.values():
        assert task.resources == Resources.from_json(infos[int(task.task_id[2:])]["resources"])
        used = used + task.resources
    executor = Resources.from_json(infos[0]["executor"]["resources"])
    assert agent.ledger.available() == offered - used - executor
