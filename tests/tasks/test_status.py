"""Pure status folding: Mesos updates, executor reports and results, control paths."""

from __future__ import annotations

import pytest

from controller.tasks import finish as fin
from controller.tasks import status as st
from controller.tasks.facts import ProcessFacts, encode_facts
from crds.kinds.common import Command
from crds.kinds.task import Task, TaskSpec, TaskStatus
from crds.meta import ObjectMeta
from mesosapi.models import TaskId
from mesosapi.models import TaskStatus as MesosStatus
from mesosapi.o2messages import TaskReport, TransitionResult
from tests.model_copies import count_model_copies


def mesos(state: str, *, data: bytes | None = None, reason: str | None = None) -> MesosStatus:
    return MesosStatus(task_id=TaskId("t.1"), state=state, data=data, reason=reason)


def running_task(state: str, desired: str, **spec: object) -> Task:
    return Task(
        metadata=ObjectMeta(name="t", uid="0123456789", generation=3),
        spec=TaskSpec(task_class="c", command=Command(value="x"), state=desired, **spec),
        status=TaskStatus(phase="Running", state=state, mesos_task_id="t.1", agent_id="a"),
    )


def test_occ_paths_are_the_shortest_legal_walks() -> None:
    assert st.occ_path("STANDBY", "RUNNING") == ("CONFIGURE", "START")
    assert st.occ_path("RUNNING", "STANDBY") == ("STOP", "RESET")
    assert st.occ_path("RUNNING", "DONE") == ("STOP", "EXIT")
    assert st.occ_path("CONFIGURED", "CONFIGURED") == ()
    assert st.occ_path("ERROR", "RUNNING") is None  # ERROR is sticky
    assert st.occ_path("ERROR", "DONE") == ("EXIT",)


def test_running_update_takes_pid_and_occ_state_from_executor_data() -> None:
    data = encode_facts(ProcessFacts(pid=42, occ_state="STANDBY"))
    new = st.on_update(TaskStatus(phase="Staging"), mesos("TASK_RUNNING", data=data))
    assert (new.phase, new.pid, new.state) == ("Running", 42, "STANDBY")


def test_reconciliation_answer_without_data_keeps_what_is_known() -> None:
    old = TaskStatus(phase="Running", pid=42, state="RUNNING")
    new = st.on_update(old, mesos("TASK_RUNNING", reason="REASON_RECONCILIATION"))
    assert (new.phase, new.pid, new.state) == ("Running", 42, "RUNNING")


def test_killed_process_fails_with_its_signal() -> None:
    data = encode_facts(ProcessFacts(pid=42, occ_state="ERROR", signal=9))
    new = st.on_update(TaskStatus(phase="Running", pid=42), mesos("TASK_FAILED", data=data))
    assert (new.phase, new.signal, new.state) == ("Failed", 9, "ERROR")
    assert new.message == "process ended by signal 9"


def test_lost_agent_means_lost_and_late_updates_never_revive() -> None:
    lost = st.on_update(TaskStatus(phase="Running"), mesos("TASK_UNREACHABLE"))
    assert lost.phase == "Lost" and lost.reason == "TASK_UNREACHABLE"
    assert st.on_update(lost, mesos("TASK_RUNNING")).phase == "Lost"


def test_control_items_carry_properties_run_number_and_stable_ids() -> None:
    task = running_task("STANDBY", "RUNNING", properties={"rate": "5"}, run_number=12)
    items = st.control_items(task)
    assert [(i.event, i.src_state) for i in items] == [
        ("CONFIGURE", "STANDBY"),
        ("START", "CONFIGURED"),
    ]
    assert items[0].arguments == {"rate": "5"}
    assert items[1].arguments == {"run_number": "12", "runNumber": "12"}
    assert [i.transition_id for i in st.control_items(task)] == [i.transition_id for i in items]
    moved = task.model_copy(update={"metadata": task.metadata.model_copy(update={"generation": 4})})
    assert st.control_items(moved)[0].transition_id != items[0].transition_id


def test_no_control_for_tasks_not_running_or_already_there() -> None:
    assert st.control_items(running_task("RUNNING", "RUNNING")) == []
    pending = running_task("STANDBY", "RUNNING")
    pending = pending.model_copy(
        update={"status": pending.status.model_copy(update={"phase": "Staging"})}
    )
    assert st.control_items(pending) == []


def test_results_and_reports_fold_into_state() -> None:
    status = TaskStatus(phase="Running", state="STANDBY", mesos_task_id="t.1")
    ok = TransitionResult(task_id="t.1", transition_id="x", ok=True, state="CONFIGURED")
    assert st.on_result(status, ok).state == "CONFIGURED"
    bad = TransitionResult(
        task_id="t.1", transition_id="y", ok=False, state="ERROR", message="boom"
    )
    assert (st.on_result(status, bad).state, st.on_result(status, bad).message) == ("ERROR", "boom")
    row = TaskReport(task_id="t.1", control="occ", phase="running", state="RUNNING", pid=7)
    assert (st.on_report(status, row).state, st.on_report(status, row).pid) == ("RUNNING", 7)


def test_ready_only_when_running_in_the_desired_state() -> None:
    assert fin.conditions(running_task("RUNNING", "RUNNING"))[0].status == "True"
    not_yet = fin.conditions(running_task("CONFIGURED", "RUNNING"))[0]
    assert (not_yet.status, not_yet.reason) == ("False", "Transitioning")


def test_configure_records_the_properties_digest_the_environment_controller_compares() -> None:
    from controller.environments.taskset import properties_digest

    props = {"rate": "5", "mode": "physics"}
    assert st.properties_digest(props) == properties_digest(props)
    status = TaskStatus(phase="Running", state="STANDBY", mesos_task_id="t.1")
    ok = TransitionResult(task_id="t.1", transition_id="x", ok=True, state="CONFIGURED")
    configured = st.result_if_mine(status, result=ok, configured_digest=st.properties_digest(props))
    assert configured.configured_properties == st.properties_digest(props)
    reset = TransitionResult(task_id="t.1", transition_id="y", ok=True, state="STANDBY")
    assert st.on_result(configured, reset).configured_properties is None
    other = TransitionResult(task_id="t.0", transition_id="z", ok=True, state="ERROR")
    assert st.result_if_mine(configured, result=other) == configured


def test_a_resent_launch_update_does_not_take_a_configured_task_back_to_standby() -> None:
    """The agent re-sends TASK_RUNNING (OCC state STANDBY, as at launch) until it is
    acknowledged; arriving after CONFIGURE, it must not make the next pass send CONFIGURE from
    STANDBY again (the executor refuses it: a TransitionFailed for a task that was fine)."""
    data = encode_facts(ProcessFacts(pid=42, occ_state="STANDBY"))
    task = running_task("CONFIGURED", "RUNNING")
    status = st.on_update(task.status, mesos("TASK_RUNNING", data=data))
    assert (status.phase, status.pid, status.state) == ("Running", 42, "CONFIGURED")
    items = st.control_items(task.model_copy(update={"status": status}))
    assert [(i.event, i.src_state) for i in items] == [("START", "CONFIGURED")]
    ended = encode_facts(ProcessFacts(pid=42, occ_state="ERROR", exit_code=1))
    assert st.on_update(status, mesos("TASK_FAILED", data=ended)).state == "ERROR"


def test_answers_fold_in_without_pydantic_copies(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each executor answer and Mesos update of each task is folded into its status (and the
    framework looks at the result through the writer's view): unvalidated copies, as pydantic's
    model_copy does not validate either, without its per-slot copies."""
    copies = count_model_copies(monkeypatch)
    status = running_task("CONFIGURED", "RUNNING").status
    result = TransitionResult(
        task_id="t.1", transition_id="x:CONFIGURED>START", ok=True, state="RUNNING"
    )
    started = st.on_result(status, result)
    data = encode_facts(ProcessFacts(pid=42, occ_state="STANDBY"))
    updated = st.on_update(started, mesos("TASK_RUNNING", data=data))
    row = TaskReport(task_id="t.1", control="occ", phase="running", state="RUNNING", pid=43)
    reported = st.on_report(updated, row)
    assert copies == []
    assert (reported.state, reported.pid, reported.last_transition_id) == (
        "RUNNING",
        43,
        "x:CONFIGURED>START",
    )
    assert TaskStatus.model_validate(reported.model_dump()) == reported


def test_launch_and_back_to_pending_copy_unvalidated_what_validation_would_give(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A DEPLOY writes every task's launch status (and the view asks for it again): the folds
    copy the status unvalidated, and the result is what validation would give."""
    from datetime import UTC, datetime

    now = datetime(2026, 1, 1, tzinfo=UTC)
    running = TaskStatus(phase="Running", state="RUNNING", agent_id="a1")
    copies = count_model_copies(monkeypatch)
    launch = st.launched(
        TaskStatus(message="waiting"),
        mesos_task_id="t.1",
        agent_id="a1",
        hostname="flp-1",
        ports=(31000,),
        executor_id="o2-executor",
        now=now,
        channels={"data": "tcp://flp-1:31000"},
    )
    pending = st.back_to_pending(launch)
    ended = st.on_basic_terminated(running, exit_code=1, signal=None, message="x")
    told = st.with_message(pending, message="no offer fits")
    assert copies == []
    for status in (launch, pending, ended, told):
        assert TaskStatus.model_validate(status.model_dump()) == status
    assert (launch.phase, launch.ports, launch.message) == (
        "Staging",
        (31000,),
        "launching on flp-1",
    )
    assert (pending.phase, pending.mesos_task_id, pending.ports) == ("Pending", None, ())
    assert (ended.terminated, ended.exit_code) == (True, 1)
    assert told.message == "no offer fits"
