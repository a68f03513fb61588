"""Planning: the lifecycle, run numbers, live changes, failures and hooks, on a simulated farm.

The task side is played by tests.environments.helpers.Sim (tasks reach spec.state at once);
the real task controller runs with it in tests/environments/test_e2e.py.
"""

from __future__ import annotations

import json
from datetime import timedelta

from controller.environments.plan import detector_conflicts, plan
from controller.environments.taskset import expired_idle, properties_digest
from crds.conditions import get_condition
from crds.labels import CONFIGURED_WITH, ENV_LABEL, IDLE_LABEL, IDLE_SINCE, ROLE_LABEL
from tests.environments.helpers import Sim, samples, with_calls, with_vars

TPC = {"physics-1-flp-tpc-readout", "physics-1-flp-tpc-stfb", "physics-1-qc-0"}
ITS = {"physics-1-flp-its-readout"}


def running_sim() -> Sim:
    env, workflow, classes = samples()
    sim = Sim(env, workflow, classes)
    sim.settle()
    assert sim.env.status.state == "RUNNING"
    return sim


def test_sample_walks_standby_to_running_with_run_one_and_hook() -> None:
    sim = running_sim()
    status = sim.env.status
    assert [(h.event, h.to_state) for h in status.history] == [
        ("DEPLOY", "DEPLOYED"),
        ("CONFIGURE", "CONFIGURED"),
        ("START_ACTIVITY", "RUNNING"),
    ]
    assert status.run_number == 1
    assert set(sim.tasks) == TPC
    assert all(t.spec.state == "RUNNING" and t.spec.run_number == 1 for t in sim.tasks.values())
    assert [h.argv for h in sim.hooks_run] == [("echo", "start-of-run", "1")]
    assert status.task_counts == {"RUNNING": 3} and status.task_total == 3
    ready = get_condition(status.conditions, "Ready")
    assert ready is not None and ready.status == "True"


def test_created_tasks_are_owned_and_labelled() -> None:
    sim = running_sim()
    task = sim.tasks["physics-1-flp-tpc-readout"]
    assert task.metadata.labels == {ENV_LABEL: "physics-1", ROLE_LABEL: "flp-TPC.readout"}
    owner = task.metadata.owner_references[0]
    assert (owner.kind, owner.name, owner.uid, owner.controller) == (
        "Environment",
        "physics-1",
        "uid-env",
        True,
    )


def test_stop_then_start_gives_the_next_run_number_without_restarts() -> None:
    sim = running_sim()
    pids = sim.pids()
    sim.set_spec(state="CONFIGURED")
    sim.settle()
    assert sim.env.status.state == "CONFIGURED"
    assert sim.env.status.run_number is None and sim.env.status.last_run_number == 1
    sim.set_spec(state="RUNNING")
    sim.settle()
    assert sim.env.status.run_number == 2
    assert sim.pids() == pids
    assert sim.hooks_run[-1].argv == ("echo", "start-of-run", "2")


def test_adding_a_detector_while_running_adds_only_its_tasks_at_running() -> None:
    sim = running_sim()
    pids = sim.pids()
    sim.set_vars(detectors='["TPC", "ITS"]')
    sim.settle()
    assert set(sim.tasks) == TPC | ITS
    assert {n: p for n, p in sim.pids().items() if n in TPC} == pids
    its = sim.tasks["physics-1-flp-its-readout"]
    assert its.status.state == "RUNNING" and its.spec.run_number == 1
    assert sim.env.status.state == "RUNNING" and sim.env.status.run_number == 1


def test_removing_a_detector_stops_then_deletes_only_its_tasks() -> None:
    sim = running_sim()
    sim.set_vars(detectors='["TPC", "ITS"]')
    sim.settle()
    pids = sim.pids()
    sim.set_vars(detectors='["TPC"]')
    first = sim.step()
    assert [t.name for t in first.update] == ["physics-1-flp-its-readout"]
    assert first.update[0].spec.state == "DONE" and not first.delete
    sim.settle()
    assert set(sim.tasks) == TPC
    assert {n: pids[n] for n in TPC} == sim.pids()


def test_rate_change_while_configured_reconfigures_in_place() -> None:
    sim = running_sim()
    sim.set_spec(state="CONFIGURED")
    sim.settle()
    pids = sim.pids()
    sim.set_vars(rate="500")
    first = sim.step()
    assert {t.name: t.spec.state for t in first.update} == {"physics-1-flp-tpc-readout": "STANDBY"}
    sim.settle()
    readout = sim.tasks["physics-1-flp-tpc-readout"]
    assert readout.spec.properties["rate"] == "500" and readout.status.state == "CONFIGURED"
    assert sim.pids() == pids


def test_rate_change_while_running_waits_for_next_run_by_default() -> None:
    sim = running_sim()
    sim.set_vars(rate="500")
    sim.settle()
    readout = sim.tasks["physics-1-flp-tpc-readout"]
    assert readout.spec.properties["rate"] == "500" and readout.status.state == "RUNNING"
    assert sim.env.status.run_number == 1
    sim.set_spec(state="CONFIGURED")
    sim.settle()
    sim.set_spec(state="RUNNING")
    sim.settle()
    readout = sim.tasks["physics-1-flp-tpc-readout"]
    assert readout.status.state == "RUNNING" and sim.env.status.run_number == 2
    assert not any(
        t.spec.state == "STANDBY" for p in sim.plans[-8:] for t in p.update if "stfb" in t.name
    )


def test_rate_change_now_cycles_only_the_affected_task_while_running() -> None:
    sim = running_sim()
    sim.set_spec(reconfigure="Now")
    sim.set_vars(rate="500")
    first = sim.step()
    assert {t.name: t.spec.state for t in first.update} == {"physics-1-flp-tpc-readout": "STANDBY"}
    sim.settle()
    assert sim.tasks["physics-1-flp-tpc-readout"].status.state == "RUNNING"
    assert sim.env.status.state == "RUNNING"


def test_critical_task_failure_sends_environment_to_error_and_stops_the_rest() -> None:
    sim = running_sim()
    sim.break_task("physics-1-flp-tpc-readout", message="process killed by signal 9")
    sim.settle()
    status = sim.env.status
    assert status.state == "ERROR"
    assert "physics-1-flp-tpc-readout" in status.message and "signal 9" in status.message
    assert sim.tasks["physics-1-flp-tpc-stfb"].spec.state == "CONFIGURED"
    assert status.run_number is None and status.last_run_number == 1


def test_non_critical_task_failure_is_only_reported() -> None:
    sim = running_sim()
    sim.break_task("physics-1-qc-0")
    sim.settle()
    assert sim.env.status.state == "RUNNING"
    assert sim.env.status.task_counts.get("Failed") == 1


def test_error_is_sticky_until_recover_request_then_redeploys() -> None:
    sim = running_sim()
    sim.break_task("physics-1-flp-tpc-readout")
    sim.settle()
    sim.settle()
    assert sim.env.status.state == "ERROR"
    sim.frozen.clear()
    sim.set_spec(recover_request=1)
    recovered = sim.settle()
    assert recovered.status.recovered_request == 1
    assert recovered.status.state == "RUNNING" and recovered.status.run_number == 2


def test_exit_releases_reusable_tasks_and_deletes_the_others() -> None:
    sim = running_sim()
    sim.set_spec(state="DONE")
    sim.settle()
    assert sim.env.status.state == "DONE"
    idle = sim.tasks["physics-1-flp-tpc-readout"]
    assert idle.spec.environment is None and idle.metadata.owner_references == ()
    assert idle.metadata.labels == {IDLE_LABEL: "true"} and idle.status.state == "STANDBY"
    assert set(sim.tasks) == {"physics-1-flp-tpc-readout"}


def test_deploy_times_out_into_error_naming_unready_tasks() -> None:
    env, workflow, classes = samples()
    sim = Sim(env, workflow, classes, frozen=set(TPC))
    sim.step()
    assert set(sim.tasks) == TPC
    sim.now += timedelta(seconds=120)
    sim.settle()
    assert sim.env.status.state == "ERROR"
    assert "DEPLOY timed out" in sim.env.status.message


def test_template_error_stalls_without_touching_tasks() -> None:
    sim = running_sim()
    sim.set_vars(detectors='["TPC"]', qc_replicas="{{ nope }}")
    p = plan(sim.env, sim.workflow, sim.classes, list(sim.tasks.values()), now=sim.now)
    assert not (p.create or p.update or p.delete)
    stalled = get_condition(p.status.conditions, "Stalled")
    assert stalled is not None and stalled.reason == "InvalidWorkflow"
    assert "qc" in stalled.message and "nope" in stalled.message


def test_detector_in_use_elsewhere_blocks_deploy_with_a_condition() -> None:
    env, workflow, classes = samples()
    p = plan(
        env,
        workflow,
        classes,
        [],
        now=Sim(env, workflow, classes).now,
        busy_detectors={"physics-2": ["TPC"]},
    )
    assert p.status.transition is None and not p.create
    stalled = get_condition(p.status.conditions, "Stalled")
    assert stalled is not None and stalled.reason == "DetectorInUse"
    assert "TPC (used by physics-2)" in stalled.message


def test_detector_conflicts_helper() -> None:
    assert detector_conflicts(["TPC", "ITS"], {"a": ["ITS"], "b": ["MFT"]}) == {"ITS": "a"}


def test_new_environment_adopts_idle_reusable_task_instead_of_launching() -> None:
    first = running_sim()
    first.set_spec(state="DONE")
    first.settle()
    idle = first.tasks["physics-1-flp-tpc-readout"]
    env, workflow, classes = samples()
    meta = env.metadata.model_copy(update={"name": "physics-2", "uid": "uid-env-2"})
    second = Sim(env.model_copy(update={"metadata": meta}), workflow, classes, tasks=first.tasks)
    second.next_pid = 500
    second.settle()
    assert second.env.status.state == "RUNNING"
    adopted = second.owned()["flp-TPC.readout"]
    assert adopted.name == "physics-1-flp-tpc-readout"
    assert adopted.metadata.uid == idle.metadata.uid and adopted.status.pid == idle.status.pid
    assert adopted.metadata.labels == {ENV_LABEL: "physics-2", ROLE_LABEL: "flp-TPC.readout"}
    assert adopted.metadata.owner_references[0].uid == "uid-env-2"
    assert adopted.status.state == "RUNNING"
    assert "physics-2-flp-tpc-readout" not in second.tasks
    assert second.owned()["flp-TPC.stfb"].status.pid in range(500, 600)


def test_idle_task_of_another_command_is_not_adopted() -> None:
    first = running_sim()
    first.set_spec(state="DONE")
    first.settle()
    env, workflow, classes = samples()
    meta = env.metadata.model_copy(update={"name": "physics-2", "uid": "uid-env-2"})
    other = env.model_copy(update={"metadata": meta})
    other = other.model_copy(
        update={
            "spec": other.spec.model_copy(update={"vars": {"detectors": '["TPC"]', "rate": "9"}})
        }
    )
    second = Sim(other, workflow, classes, tasks=first.tasks)
    second.settle()
    assert second.owned()["flp-TPC.readout"].name == "physics-2-flp-tpc-readout"
    assert first.tasks["physics-1-flp-tpc-readout"].metadata.labels == {IDLE_LABEL: "true"}


def test_critical_after_hook_failure_completes_then_goes_error() -> None:
    env, workflow, classes = samples()
    workflow = with_calls(workflow, trigger="after_START_ACTIVITY")
    sim = Sim(env, workflow, classes, fail_hooks={"sor"})
    sim.settle()
    status = sim.env.status
    assert status.state == "ERROR"
    assert [(h.event, h.result) for h in status.history][-2:] == [
        ("START_ACTIVITY", "Failed"),
        ("GO_ERROR", "Succeeded"),
    ]
    assert "hook sor failed" in status.message and status.last_run_number == 1


def test_released_tasks_expire_from_the_idle_pool_after_ttl() -> None:
    sim = running_sim()
    sim.set_spec(state="DONE")
    sim.settle()
    idle = list(sim.tasks.values())
    released_at = idle[0].metadata.annotations[IDLE_SINCE]
    assert released_at
    assert expired_idle(idle, now=sim.now, ttl=timedelta(hours=1)) == []
    later = sim.now + timedelta(hours=2)
    assert [t.name for t in expired_idle(idle, now=later, ttl=timedelta(hours=1))] == [
        "physics-1-flp-tpc-readout"
    ]


def test_async_hook_is_started_at_trigger_and_awaited_at_its_await_step() -> None:
    env, workflow, classes = samples()
    workflow = with_calls(
        workflow, trigger="before_START_ACTIVITY+10", await_="after_START_ACTIVITY"
    )
    sim = Sim(env, workflow, classes)
    sim.settle()
    started = [p for p in sim.plans if p.start_hooks]
    awaited = [p for p in sim.plans if p.await_hooks]
    assert len(started) == 1 and len(awaited) == 1
    assert started[0].await_hooks == () and awaited[0].start_hooks == ()
    assert sim.plans.index(started[0]) < sim.plans.index(awaited[0])
    assert sim.env.status.state == "RUNNING"


def test_every_finished_transition_yields_one_event_with_its_duration() -> None:
    sim = running_sim()
    finished = [n for p in sim.plans for n in p.notes if n.reason.startswith("Transition")]
    ends = [n.message for n in finished if n.reason == "TransitionSucceeded"]
    assert ends == [
        "DEPLOY STANDBY -> DEPLOYED in 1.000s",
        "CONFIGURE DEPLOYED -> CONFIGURED in 1.000s",
        "START_ACTIVITY CONFIGURED -> RUNNING in 3.000s (run 1)",
    ]
    assert [n.reason for n in finished].count("TransitionStarted") == 3


def test_adding_a_detector_held_elsewhere_creates_nothing_and_says_why() -> None:
    sim = running_sim()
    sim.set_vars(detectors='["TPC", "ITS"]')
    p = plan(
        sim.env,
        sim.workflow,
        sim.classes,
        list(sim.tasks.values()),
        now=sim.now,
        busy_detectors={"physics-2": ["ITS"]},
    )
    assert not p.create
    assert p.status.detectors == ("TPC",)
    stalled = get_condition(p.status.conditions, "Stalled")
    assert stalled is not None and stalled.reason == "DetectorInUse"
    assert "ITS (used by physics-2)" in p.status.message


def test_live_environment_holds_its_detectors_and_releases_them_when_done() -> None:
    sim = running_sim()
    held = [sim.env.status.detectors]
    sim.set_vars(detectors='["TPC", "ITS"]')
    held.append(sim.settle().status.detectors)
    sim.set_spec(state="DONE")
    held.append(sim.settle().status.detectors)
    assert held == [("TPC",), ("TPC", "ITS"), ()]


def test_recreated_environment_whose_task_name_was_adopted_gets_a_suffixed_task() -> None:
    first = running_sim()
    first.set_spec(state="DONE")
    first.settle()
    env, workflow, classes = samples()
    meta = env.metadata.model_copy(update={"name": "physics-2", "uid": "uid-env-2"})
    second = Sim(env.model_copy(update={"metadata": meta}), workflow, classes, tasks=first.tasks)
    second.settle()
    assert second.owned()["flp-TPC.readout"].name == "physics-1-flp-tpc-readout"
    again_meta = env.metadata.model_copy(update={"uid": "abcdef123456"})
    again = Sim(
        env.model_copy(update={"metadata": again_meta}), workflow, classes, tasks=first.tasks
    )
    again.settle()
    assert again.env.status.state == "RUNNING"
    assert again.owned()["flp-TPC.readout"].name == "physics-1-flp-tpc-readout-abcdef12"
    assert second.owned()["flp-TPC.readout"].metadata.labels[ENV_LABEL] == "physics-2"


def test_role_summary_collapses_copies_when_there_are_many() -> None:
    env, workflow, classes = samples()
    detectors = json.dumps([f"D{i}" for i in range(150)])
    sim = Sim(with_vars(env, detectors=detectors), workflow, classes)
    sim.settle()
    roles = {r.path: (r.tasks, r.states) for r in sim.env.status.roles}
    assert roles == {
        "flp-{{ detector }}.readout": (150, {"RUNNING": 150}),
        "flp-{{ detector }}.stfb": (150, {"RUNNING": 150}),
        "qc": (1, {"RUNNING": 1}),
    }
    small = running_sim().env.status.roles
    assert [r.path for r in small] == ["flp-TPC.readout", "flp-TPC.stfb", "qc-0"]


def test_reconfigure_follows_the_task_controllers_digest_when_it_reports_one() -> None:
    env, workflow, classes = samples()
    sim = Sim(env, workflow, classes, report_digest=True)
    sim.settle()
    sim.set_spec(state="CONFIGURED")
    sim.settle()
    pids = sim.pids()
    sim.set_vars(rate="500")
    first = sim.step()
    assert {t.name: t.spec.state for t in first.update} == {"physics-1-flp-tpc-readout": "STANDBY"}
    assert all(CONFIGURED_WITH not in t.metadata.annotations for t in first.update)
    sim.settle()
    readout = sim.tasks["physics-1-flp-tpc-readout"]
    assert readout.status.state == "CONFIGURED" and sim.pids() == pids
    assert readout.status.configured_properties == properties_digest(
        {"rate": "500", "detector": "TPC"}
    )


def test_reconfigure_without_a_reported_digest_records_the_old_one_until_reset() -> None:
    sim = running_sim()
    sim.set_spec(state="CONFIGURED")
    sim.settle()
    sim.set_vars(rate="500")
    first = sim.step()
    (readout,) = first.update
    old = properties_digest({"rate": "200", "detector": "TPC"})
    assert readout.metadata.annotations[CONFIGURED_WITH] == old
    assert readout.spec.state == "STANDBY" and readout.spec.properties["rate"] == "500"
    sim.settle()
    final = sim.tasks["physics-1-flp-tpc-readout"]
    assert CONFIGURED_WITH not in final.metadata.annotations
    assert final.status.state == "CONFIGURED"


def test_recover_that_times_out_stays_in_error_instead_of_a_go_error_from_error() -> None:
    sim = running_sim()
    sim.break_task("physics-1-flp-tpc-readout")
    sim.settle()
    sim.settle()
    assert sim.env.status.state == "ERROR"
    sim.set_spec(recover_request=1)  # the broken task stays frozen: RECOVER cannot finish
    sim.step()
    assert sim.env.status.transition is not None
    assert sim.env.status.transition.event == "RECOVER"
    sim.now += timedelta(seconds=600)
    sim.settle()
    assert sim.env.status.state == "ERROR" and sim.env.status.transition is None
    assert "RECOVER timed out" in sim.env.status.message
    assert sim.env.status.history[-1].result == "Failed"


def test_a_new_environment_of_a_deleted_ones_name_leaves_the_old_tasks_alone() -> None:
    """The chaos soak's stall: an environment deleted while RUNNING and created again at once
    took over the old incarnation's tasks, some of them already told to EXIT, and waited for
    them to come back to STANDBY for good."""
    sim = running_sim()
    old = {n: t.model_copy() for n, t in sim.tasks.items()}
    env, _, _ = samples()
    meta = env.metadata.model_copy(update={"uid": "uid-env-2"})
    sim.env = env.model_copy(update={"metadata": meta})
    sim.settle()
    assert sim.env.status.state == "RUNNING"
    assert all(sim.tasks[n].spec == t.spec for n, t in old.items())
    new = {n for n, t in sim.tasks.items() if t.metadata.owner_references[0].uid == "uid-env-2"}
    assert new == {f"{n}-uid-env" for n in TPC}  # the first 8 characters of the new uid
    assert sim.env.status.task_total == 3


def test_a_detector_dropped_and_added_back_before_its_tasks_are_gone_gets_new_tasks() -> None:
    sim = running_sim()
    sim.set_vars(detectors='["TPC", "ITS"]')
    sim.settle()
    (its,) = ITS
    sim.set_vars(detectors='["TPC"]')
    sim.step()
    assert sim.tasks[its].spec.state == "DONE"
    sim.frozen.add(its)  # its process has taken EXIT: it stays DONE until it is deleted
    exited = sim.tasks[its].status.pid
    sim.set_vars(detectors='["TPC", "ITS"]')
    sim.step()
    assert its not in sim.tasks
    sim.frozen.discard(its)
    sim.settle()
    assert sim.tasks[its].status.pid != exited  # a new process
    assert sim.env.status.state == "RUNNING" and sim.env.status.transition is None
    assert sim.tasks[its].status.state == "RUNNING"
