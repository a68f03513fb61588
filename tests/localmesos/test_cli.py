"""`python -m localmesos` as a subprocess: startup, /master/state, Ctrl-C kills executors."""

from __future__ import annotations

from pathlib import Path

from procutil import alive
from tests.localmesos.helpers import RawScheduler, raw_executor_command, task_info, wait_pid_gone
from tests.mesos_fixture import LocalMesosFactory


async def test_ctrl_c_kills_every_executor_process_and_exits_cleanly(
    localmesos_factory: LocalMesosFactory, tmp_path: Path
) -> None:
    agents = tmp_path / "agents.yaml"
    agents.write_text("- hostname: flp-1\n  attributes: {detector: ITS}\n")
    cluster = localmesos_factory("--agents-file", str(agents), "--hollow-agents", "1")
    slaves = cluster.get("/master/slaves")["slaves"]
    assert [s["hostname"] for s in slaves] == ["flp-1", "hollow-0"]
    assert slaves[0]["attributes"] == {"detector": "ITS"}
    sched = RawScheduler(cluster.url)
    try:
        await sched.subscribe()
        offer = next(o for o in await sched.offers() if o["hostname"] == "flp-1")
        await sched.accept(offer, [task_info("t1", offer, command=raw_executor_command())])
        await sched.next_update("t1", state="TASK_RUNNING")
    finally:
        await sched.close()
    pid = cluster.state()["agents"][0]["executors"][0]["pid"]
    assert alive(pid)
    assert cluster.stop() == 0
    await wait_pid_gone(pid, within=5)
    assert "Stopping: killing every executor" in cluster.logs()
