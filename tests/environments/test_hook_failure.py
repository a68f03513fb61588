"""A critical hook failing in a transition: GO_ERROR to ERROR with its hooks, in AliECS order.

Played on the simulated farm of tests.environments.helpers.Sim (pure plans, no store).
"""

from __future__ import annotations

from tests.environments.helpers import Sim, samples, with_hooks

GO_ERROR_HOOKS = (
    ("leave-configured", "leave_CONFIGURED"),
    ("enter-error", "enter_ERROR"),
    ("go-error-after", "after_GO_ERROR+100"),
    ("go-error-early", "before_GO_ERROR-10"),
    ("go-error-late", "before_GO_ERROR+5"),
    ("leave-running", "leave_RUNNING"),
    ("enter-running", "enter_RUNNING"),
    ("after-start", "after_START_ACTIVITY"),
)


def failing_start(*fail: str) -> Sim:
    env, workflow, classes = samples()
    sim = Sim(env, with_hooks(workflow, *GO_ERROR_HOOKS), classes, fail_hooks=set(fail))
    sim.settle()
    return sim


def test_critical_before_start_hook_failure_goes_through_go_error_to_error() -> None:
    sim = failing_start("sor")
    status = sim.env.status
    assert status.state == "ERROR" and status.transition is None
    assert [(h.event, h.from_state, h.to_state, h.result) for h in status.history[-2:]] == [
        ("START_ACTIVITY", "CONFIGURED", "CONFIGURED", "Failed"),
        ("GO_ERROR", "CONFIGURED", "ERROR", "Succeeded"),
    ]
    assert "START_ACTIVITY failed at before_START_ACTIVITY+10: hook sor failed" in status.message


def test_go_error_hooks_run_after_the_failed_hook_in_aliecs_order() -> None:
    sim = failing_start("sor")
    ran = [h.path for h in sim.hooks_run]
    assert ran[ran.index("sor") :] == [
        "sor",
        "go-error-early",
        "go-error-late",
        "leave-configured",
        "enter-error",
        "go-error-after",
    ]


def test_failed_start_leaves_no_run_number_showing_but_keeps_it_as_the_last_one() -> None:
    sim = failing_start("sor")
    status = sim.env.status
    assert status.run_number is None and status.last_run_number == 1
    assert sim.run_counter == 1
    assert all(t.spec.state != "RUNNING" for t in sim.tasks.values())


def test_failure_before_the_run_number_step_allocates_none() -> None:
    env, workflow, classes = samples()
    workflow = with_hooks(workflow, ("pfr", "before_START_ACTIVITY-200"))
    sim = Sim(env, workflow, classes, fail_hooks={"pfr"})
    sim.settle()
    assert sim.env.status.state == "ERROR" and sim.run_counter == 0
    assert sim.env.status.run_number is None and sim.env.status.last_run_number is None
    assert "sor" not in [h.path for h in sim.hooks_run]


def test_failure_after_the_tasks_step_leaves_the_destination_through_go_error() -> None:
    sim = failing_start("after-start")
    status = sim.env.status
    assert status.state == "ERROR"
    assert [(h.event, h.from_state, h.to_state) for h in status.history[-2:]] == [
        ("START_ACTIVITY", "CONFIGURED", "RUNNING"),
        ("GO_ERROR", "RUNNING", "ERROR"),
    ]
    ran = [h.path for h in sim.hooks_run]
    after = ran[ran.index("after-start") + 1 :]
    go_error = ["go-error-early", "go-error-late", "leave-running", "enter-error"]
    assert after == [*go_error, "go-error-after"]


def test_error_stays_until_recover_then_the_start_is_tried_again() -> None:
    sim = failing_start("sor")
    sim.settle()
    assert sim.env.status.state == "ERROR" and sim.run_counter == 1
    sim.fail_hooks.clear()
    sim.set_spec(recover_request=1)
    sim.settle()
    assert sim.env.status.state == "RUNNING" and sim.env.status.run_number == 2


def test_non_critical_hook_failure_only_reports() -> None:
    env, workflow, classes = samples()
    workflow = with_hooks(workflow, ("soft", "before_START_ACTIVITY+20"), critical=False)
    sim = Sim(env, workflow, classes, fail_hooks={"soft"})
    sim.settle()
    assert sim.env.status.state == "RUNNING" and sim.env.status.run_number == 1


def go_error_run(*hooks: tuple[str, str], fail: str) -> Sim:
    """A failing `sor` sends START through GO_ERROR, whose hook `fail` fails too."""
    env, workflow, classes = samples()
    sim = Sim(env, with_hooks(workflow, *hooks), classes, fail_hooks={"sor", fail})
    sim.settle()
    return sim


def test_critical_failure_before_go_error_cancels_it_and_forces_error() -> None:
    """AliECS cancels a GO_ERROR whose before_/leave_ hook fails (its later hooks and tasks
    step do not run) and forces the state to ERROR (HandleFailedGoError)."""
    sim = go_error_run(*GO_ERROR_HOOKS, fail="go-error-early")
    status = sim.env.status
    assert status.state == "ERROR" and status.transition is None
    last = status.history[-1]
    assert (last.event, last.from_state, last.to_state, last.result) == (
        "GO_ERROR",
        "CONFIGURED",
        "ERROR",
        "Failed",
    )
    assert "GO_ERROR failed at before_GO_ERROR-10: hook go-error-early failed" in status.message
    ran = [h.path for h in sim.hooks_run]
    assert ran[ran.index("sor") :] == ["sor", "go-error-early"]
    assert status.run_number is None and status.last_run_number == 1


def test_critical_failure_at_leave_during_go_error_cancels_it_too() -> None:
    sim = go_error_run(*GO_ERROR_HOOKS, fail="leave-configured")
    assert sim.env.status.state == "ERROR" and sim.env.status.history[-1].result == "Failed"
    ran = [h.path for h in sim.hooks_run]
    assert ran[ran.index("sor") :] == [
        "sor",
        "go-error-early",
        "go-error-late",
        "leave-configured",
    ]


def test_critical_failure_at_enter_error_skips_the_later_weights_of_its_sign_only() -> None:
    """At enter_ERROR and after_GO_ERROR the state is ERROR already: AliECS stops the failed
    moment's weights of the same sign and runs the others."""
    hooks = (
        ("enter-a", "enter_ERROR-5"),
        ("enter-b", "enter_ERROR-1"),
        ("enter-c", "enter_ERROR"),
        ("after-a", "after_GO_ERROR-3"),
        ("after-b", "after_GO_ERROR+2"),
    )
    sim = go_error_run(*hooks, fail="enter-a")
    status = sim.env.status
    assert status.state == "ERROR" and status.transition is None
    assert status.history[-1].event == "GO_ERROR"
    assert "GO_ERROR failed at enter_ERROR-5: hook enter-a failed" in status.message
    ran = [h.path for h in sim.hooks_run]
    assert ran[ran.index("sor") :] == ["sor", "enter-a", "enter-c", "after-a", "after-b"]


def test_critical_failure_at_after_go_error_skips_its_later_positive_weights() -> None:
    hooks = (
        ("after-a", "after_GO_ERROR"),
        ("after-b", "after_GO_ERROR+2"),
        ("after-c", "after_GO_ERROR+9"),
    )
    sim = go_error_run(*hooks, fail="after-a")
    assert sim.env.status.state == "ERROR" and sim.env.status.transition is None
    ran = [h.path for h in sim.hooks_run]
    assert ran[ran.index("sor") :] == ["sor", "after-a"]
    assert "hook after-a failed" in sim.env.status.message
