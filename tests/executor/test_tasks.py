"""The executor's task table (pure): batch planning, idempotency, basic mode, final statuses."""

from __future__ import annotations

from executor.tasks import Action, TaskTable, final_status, startup_verdict
from mesosapi.o2messages import ControlItem, ControlRequest, TransitionResult


def _item(task_id: str = "t1", transition_id: str = "x1", event: str = "CONFIGURE") -> ControlItem:
    return ControlItem(task_id=task_id, transition_id=transition_id, event=event)


def _running_table(control: str = "direct") -> TaskTable:
    table = TaskTable()
    table.add("t1", control="direct" if control == "direct" else "process")
    table.mark_running("t1", pid=42, state="STANDBY" if control == "direct" else "RUNNING")
    return table


def test_new_transition_is_executed():
    assert _running_table().plan_item(_item()).action is Action.EXECUTE


def test_repeated_transition_id_returns_the_earlier_result():
    table = _running_table()
    table.begin("t1", "x1")
    first = TransitionResult(task_id="t1", transition_id="x1", ok=True, state="CONFIGURED")
    table.finish(first)
    planned = table.plan_item(_item())
    assert planned.action is Action.ANSWER
    assert planned.result == first
    assert table.get("t1").last_transition_id == "x1"  # type: ignore[union-attr]


def test_transition_id_in_flight_is_joined_not_rerun():
    table = _running_table()
    table.begin("t1", "x1")
    assert table.plan_item(_item()).action is Action.JOIN


def test_retryable_failure_is_not_remembered():
    table = _running_table()
    table.begin("t1", "x1")
    table.finish(
        TransitionResult(task_id="t1", transition_id="x1", ok=False, retryable=True, state="")
    )
    assert table.plan_item(_item()).action is Action.EXECUTE


def test_unknown_task_is_answered_with_an_error():
    planned = TaskTable().plan(ControlRequest(request_id="r", items=(_item("nope"),)))[0]
    assert planned.action is Action.ANSWER
    assert planned.result is not None and not planned.result.ok
    assert "unknown task" in planned.result.message


def test_starting_task_refuses_transitions():
    table = TaskTable()
    table.add("t1", control="direct")
    planned = table.plan_item(_item())
    assert planned.result is not None and "starting" in planned.result.message
    assert planned.result.retryable


def test_process_task_accepts_only_exit():
    table = _running_table("process")
    refused = table.plan_item(_item(event="CONFIGURE"))
    assert refused.result is not None and not refused.result.ok
    assert table.plan_item(_item(event="EXIT")).action is Action.KILL


def test_exit_codes_map_to_mesos_and_occ_states():
    table = _running_table("process")
    record = table.get("t1")
    assert record is not None
    assert final_status(record, exit_code=0, signal=None).mesos_state == "TASK_FINISHED"
    failed = final_status(record, exit_code=3, signal=None)
    assert (failed.mesos_state, failed.occ_state) == ("TASK_FAILED", "ERROR")
    killed = final_status(record, exit_code=None, signal=9)
    assert killed.mesos_state == "TASK_FAILED" and "signal 9" in killed.message


def test_exit_after_kill_request_is_killed():
    table = _running_table()
    record = table.get("t1")
    assert record is not None
    record.kill_requested = True
    assert final_status(record, exit_code=None, signal=9).mesos_state == "TASK_KILLED"


def test_mark_exited_reports_in_the_table():
    table = _running_table()
    table.mark_exited("t1", exit_code=None, signal=9, message="killed by signal 9")
    report = table.report()
    row = report.tasks[0]
    assert (row.phase, row.state, row.signal) == ("exited", "ERROR", 9)
    assert table.report().sequence == report.sequence + 1


def test_only_standby_is_ready():
    assert startup_verdict("STANDBY").ready
    assert not startup_verdict("ERROR").ready
