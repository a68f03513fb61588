"""Conformance: unmodified pymesos 0.3.15 (a client nobody here wrote) against localmesos.

pymesos runs callbacks on its own IO thread and re-raises callback errors in the main thread;
callbacks here only record into a queue and every wait is bounded.
"""

from __future__ import annotations

import inspect
import queue
import sys
import time
from pathlib import Path
from typing import Any

from tests.mesos_fixture import LocalMesosFactory, LocalMesosProcess
from tests.waiting import eventually_sync

try:  # imported at collection time, in the main thread (pymesos installs a SIGINT handler)
    from pymesos import MesosSchedulerDriver, Scheduler, decode_data, encode_data

    PYMESOS_ERROR: str | None = None
except ImportError as exc:  # the test fails with this reason: it is never skipped
    PYMESOS_ERROR = (
        f"pymesos is not importable ({exc}); run hack/install-pymesos.sh .venv/bin/python"
    )
    Scheduler = object

EXECUTOR_SCRIPT = Path(__file__).with_name("pymesos_executor.py")
WAIT = 20.0


class Recorder(Scheduler):  # type: ignore[misc]
    """Every callback becomes an (event, payload) tuple on a queue."""

    def __init__(self) -> None:
        self.events: queue.Queue[tuple[str, Any]] = queue.Queue()

    def registered(self, driver: Any, framework_id: Any, master_info: Any) -> None:
        self.events.put(("registered", framework_id["value"]))

    def reregistered(self, driver: Any, master_info: Any) -> None:
        self.events.put(("reregistered", master_info))

    def resourceOffers(self, driver: Any, offers: Any) -> None:
        self.events.put(("offers", offers))

    def statusUpdate(self, driver: Any, status: Any) -> None:
        self.events.put(("update", status))

    def frameworkMessage(self, driver: Any, executor_id: Any, agent_id: Any, data: str) -> None:
        self.events.put(("message", decode_data(data).decode()))

    def slaveLost(self, driver: Any, agent_id: Any) -> None:
        self.events.put(("agent_lost", agent_id["value"]))

    def executorLost(self, driver: Any, executor_id: Any, agent_id: Any, status: int) -> None:
        self.events.put(("executor_lost", (executor_id["value"], status)))

    def error(self, driver: Any, message: str) -> None:
        self.events.put(("error", message))

    def wait_for(self, kind: str, predicate: Any = None, *, timeout: float = WAIT) -> Any:
        """The next event of `kind` matching `predicate`; other events are skipped."""
        deadline = time.monotonic() + timeout
        seen: list[str] = []
        while True:
            left = deadline - time.monotonic()
            try:
                got, payload = self.events.get(timeout=max(left, 0.001))
            except queue.Empty:
                raise AssertionError(f"no {kind} within {timeout}s; saw {seen}") from None
            seen.append(got)
            if got == kind and (predicate is None or predicate(payload)):
                return payload


def _scalar(name: str, value: float) -> dict[str, Any]:
    return {"name": name, "type": "SCALAR", "scalar": {"value": value}}


def _task(offer: Any, task_id: str) -> dict[str, Any]:
    scalar = _scalar
    return {
        "task_id": {"value": task_id},
        "agent_id": offer["agent_id"],
        "name": task_id,
        "resources": [scalar("cpus", 0.1), scalar("mem", 32)],
        "executor": {
            "executor_id": {"value": "conformance-executor"},
            "name": "conformance executor",
            "command": {"value": f"{sys.executable} {EXECUTOR_SCRIPT}"},
            "resources": [scalar("cpus", 0.1), scalar("mem", 32)],
        },
    }


def _wait_state(cluster: LocalMesosProcess, predicate: Any, *, timeout: float = WAIT) -> Any:
    """Poll the other process's control view (no event crosses the process boundary)."""
    return eventually_sync(
        cluster.state,
        until=predicate,
        within=timeout,
        interval=0.05,
        message=lambda: f"the cluster state to match {inspect.getsource(predicate).strip()}",
    )


def test_pymesos_scheduler_and_executor_run_a_task_end_to_end(
    localmesos_factory: LocalMesosFactory,
) -> None:
    assert PYMESOS_ERROR is None, PYMESOS_ERROR
    cluster = localmesos_factory(
        "--agents", "1", "--heartbeat-interval", "1", "--shutdown-grace", "1"
    )
    sched = Recorder()
    framework = {
        "user": "o2",
        "name": "pymesos-conformance",
        "hostname": "localhost",
        "failover_timeout": 30,
    }
    driver = MesosSchedulerDriver(sched, framework, cluster.address, use_addict=True)
    driver.start()
    try:
        framework_id = sched.wait_for("registered")
        offers = sched.wait_for("offers")
        offer = offers[0]
        assert {r["name"] for r in offer["resources"]} >= {"cpus", "mem", "ports"}
        driver.launchTasks(offer["id"], [_task(offer, "t1")], {"refuse_seconds": 0})

        running = sched.wait_for("update", lambda s: s["task_id"]["value"] == "t1")
        assert running["state"] == "TASK_RUNNING"
        assert running["source"] == "SOURCE_EXECUTOR" and "uuid" in running
        assert sched.wait_for("message") == "hello t1"

        driver.reconcileTasks([])
        implicit = sched.wait_for("update", lambda s: s.get("reason") == "REASON_RECONCILIATION")
        assert implicit["state"] == "TASK_RUNNING" and "uuid" not in implicit

        driver.sendFrameworkMessage(
            {"value": "conformance-executor"}, offer["agent_id"], encode_data(b"finish t1")
        )
        assert sched.wait_for("message") == "echo finish t1"
        finished = sched.wait_for("update", lambda s: s["task_id"]["value"] == "t1")
        assert finished["state"] == "TASK_FINISHED"
        assert decode_data(finished["data"]) == b"done"
        # pymesos acknowledges in the background: reconcile once the master has forgotten t1.
        _wait_state(
            cluster,
            lambda s: any(t["id"] == "t1" for f in s["frameworks"] for t in f["completed_tasks"]),
        )

        driver.reconcileTasks([{"task_id": {"value": "t1"}}])
        explicit = sched.wait_for("update", lambda s: s.get("reason") == "REASON_RECONCILIATION")
        assert explicit["state"] == "TASK_LOST"  # acknowledged terminal tasks are forgotten
    finally:
        driver.stop()
        driver.join()

    state = _wait_state(
        cluster,
        lambda s: framework_id in s["completed_frameworks"] and not s["agents"][0]["executors"],
    )
    assert state["frameworks"] == []
    assert "pymesos executor done" in _sandbox_stdout(cluster, framework_id)


def _sandbox_stdout(cluster: LocalMesosProcess, framework_id: str) -> str:
    stdout = next(
        cluster.work_dir.glob(f"slaves/*/frameworks/{framework_id}/executors/*/runs/*/stdout")
    )
    return str(cluster.get(f"/files/read?path={stdout}&offset=0")["data"])


def test_pymesos_failover_explicit_acks_kill_and_agent_loss(
    localmesos_factory: LocalMesosFactory,
) -> None:
    assert PYMESOS_ERROR is None, PYMESOS_ERROR
    cluster = localmesos_factory(
        "--agents",
        "1",
        "--heartbeat-interval",
        "1",
        "--update-retry",
        "0.3",
        "--shutdown-grace",
        "1",
        "--allocation-interval",
        "0.1",
    )
    first = Recorder()
    framework = {
        "user": "o2",
        "name": "pymesos-failover",
        "hostname": "localhost",
        "failover_timeout": 30,
    }
    driver = MesosSchedulerDriver(
        first, dict(framework), cluster.address, use_addict=True, implicit_acknowledgements=False
    )
    driver.start()
    try:
        framework_id = first.wait_for("registered")
        offer = first.wait_for("offers")[0]
        driver.launchTasks(offer["id"], [_task(offer, "t1")], {"refuse_seconds": 0})
        running = first.wait_for("update", lambda s: s["task_id"]["value"] == "t1")
        again = first.wait_for("update", lambda s: s["task_id"]["value"] == "t1")
        assert again["uuid"] == running["uuid"]  # not acknowledged: the same head is retried
        driver.acknowledgeStatusUpdate(running)
    finally:
        driver.stop(failover=True)  # no TEARDOWN: the framework and its task survive
        driver.join()

    second = Recorder()
    driver = MesosSchedulerDriver(
        second, {**framework, "id": {"value": framework_id}}, cluster.address, use_addict=True
    )
    driver.start()
    try:
        second.wait_for("reregistered")
        driver.reconcileTasks([])
        status = second.wait_for("update", lambda s: s.get("reason") == "REASON_RECONCILIATION")
        assert status["task_id"]["value"] == "t1" and status["state"] == "TASK_RUNNING"
        driver.killTask({"value": "t1"})
        killed = second.wait_for("update", lambda s: s["task_id"]["value"] == "t1")
        assert killed["state"] == "TASK_KILLED" and killed["source"] == "SOURCE_EXECUTOR"

        offer = second.wait_for("offers")[0]
        driver.launchTasks(offer["id"], [_task(offer, "t2")], {"refuse_seconds": 0})
        second.wait_for("update", lambda s: s["state"] == "TASK_RUNNING")
        cluster.post(f"/localmesos/agents/{offer['agent_id']['value']}/kill")
        lost = second.wait_for("update", lambda s: s["task_id"]["value"] == "t2")
        assert lost["state"] == "TASK_LOST" and "uuid" not in lost
        assert second.wait_for("agent_lost") == offer["agent_id"]["value"]
    finally:
        driver.stop()
        driver.join()
    _wait_state(cluster, lambda s: framework_id in s["completed_frameworks"])
