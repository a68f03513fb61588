"""The run's times (run_start_time_ms, run_end_time_ms, their completion times and
enter_state_time_ms) set where AliECS's core sets them, seen by hooks and pushed at START.

Played on the simulated farm of tests.environments.helpers.Sim (pure plans, no store): each
reconcile is one simulated second, so every time tells at which reconcile it was set.
"""

from __future__ import annotations

from controller.environments.runvars import millis
from crds.kinds.workflow import Role, Workflow
from tests.environments.helpers import T0, Sim, samples

SHOWN = ("run_start_time_ms", "run_end_time_ms", "run_start_completion_time_ms")


def showing(workflow: Workflow, *hooks: tuple[str, str], critical: bool = True) -> Workflow:
    """`workflow` plus one call role per (name, trigger) echoing the run's times it sees."""
    names = (*SHOWN, "run_end_completion_time_ms", "enter_state_time_ms")
    shown = [f"{n}={{{{ {n} | default('unset') }}}}" for n in names]
    roles = tuple(
        Role.model_validate(
            {
                "name": name,
                "call": {"command": ["echo", *shown], "trigger": trigger, "critical": critical},
            }
        )
        for name, trigger in hooks
    )
    spec = workflow.spec.model_copy(update={"roles": (*workflow.spec.roles, *roles)})
    return workflow.model_copy(update={"spec": spec})


def seen(sim: Sim, path: str, *, last: bool = True) -> dict[str, str]:
    """What the hook `path` saw the last (or first) time it ran."""
    runs = [h for h in sim.hooks_run if h.path == path]
    hook = runs[-1] if last else runs[0]
    return dict(arg.split("=", 1) for arg in hook.argv[1:])


def running(*hooks: tuple[str, str]) -> Sim:
    env, workflow, classes = samples()
    sim = Sim(env, showing(workflow, *hooks), classes)
    sim.settle()
    assert sim.env.status.state == "RUNNING"
    return sim


def test_start_sets_the_start_time_with_the_run_number_and_tasks_receive_that_value() -> None:
    sim = running(("sor-early", "before_START_ACTIVITY-10"), ("sor-late", "before_START_ACTIVITY"))
    times = sim.env.status.runtime_vars
    start = times["run_start_time_ms"]
    assert int(start) > int(millis(T0))
    assert times["run_end_time_ms"] == times["run_end_completion_time_ms"] == ""
    assert seen(sim, "sor-early")["run_start_time_ms"] == "unset"  # before the allocation
    assert seen(sim, "sor-late")["run_start_time_ms"] == start
    for task in sim.owned().values():
        args = task.spec.start_arguments
        assert args["run_start_time_ms"] == args["runStartTimeMs"] == start
        assert args["run_end_time_ms"] == ""  # AliECS pushes the cleared end time too


def test_after_start_completion_time_comes_after_the_negative_weight_hooks() -> None:
    sim = running(("early", "after_START_ACTIVITY-1"), ("late", "after_START_ACTIVITY"))
    times = sim.env.status.runtime_vars
    assert int(times["run_start_completion_time_ms"]) > int(times["run_start_time_ms"])
    assert seen(sim, "early")["run_start_completion_time_ms"] == ""
    assert (
        seen(sim, "late")["run_start_completion_time_ms"] == times["run_start_completion_time_ms"]
    )


def test_stop_sets_the_end_time_hooks_after_stop_see_it_and_start_clears_it() -> None:
    sim = running(
        ("eor-early", "before_STOP_ACTIVITY-5"),
        ("eor", "before_STOP_ACTIVITY"),
        ("after-stop", "after_STOP_ACTIVITY"),
    )
    first_start = sim.env.status.runtime_vars["run_start_time_ms"]
    sim.set_spec(state="CONFIGURED")
    sim.settle()
    times = sim.env.status.runtime_vars
    end = times["run_end_time_ms"]
    assert int(end) > int(first_start)
    assert seen(sim, "eor-early")["run_end_time_ms"] == ""
    assert seen(sim, "eor")["run_end_time_ms"] == end
    after = seen(sim, "after-stop")
    assert after["run_end_time_ms"] == end
    assert int(after["run_end_completion_time_ms"]) >= int(end)
    assert after["run_start_time_ms"] == first_start

    sim.set_spec(state="RUNNING")
    sim.settle()
    times = sim.env.status.runtime_vars
    assert int(times["run_start_time_ms"]) > int(first_start)
    assert times["run_end_time_ms"] == ""
    assert all(t.spec.start_arguments["run_end_time_ms"] == "" for t in sim.owned().values())


def test_go_error_sets_an_end_time_only_for_a_run_not_stopped_yet() -> None:
    sim = running(("after-error", "after_GO_ERROR"))
    sim.break_task("physics-1-flp-tpc-readout")
    sim.settle()
    assert sim.env.status.state == "ERROR"
    times = sim.env.status.runtime_vars
    assert int(times["run_end_time_ms"]) > int(times["run_start_time_ms"])
    assert (
        seen(sim, "after-error")["run_end_completion_time_ms"]
        == times["run_end_completion_time_ms"]
    )
    assert int(times["run_end_completion_time_ms"]) >= int(times["run_end_time_ms"])


def test_go_error_before_any_run_sets_no_end_time() -> None:
    env, workflow, classes = samples()
    sim = Sim(env, workflow, classes)
    sim.set_spec(state="CONFIGURED")
    sim.settle()
    sim.break_task("physics-1-flp-tpc-readout")
    sim.settle()
    assert sim.env.status.state == "ERROR"
    assert "run_end_time_ms" not in sim.env.status.runtime_vars


def test_enter_state_time_is_set_at_the_first_transition_then_at_each_enter() -> None:
    sim = running(
        ("deploy", "before_DEPLOY"),
        ("enter-early", "enter_RUNNING-1"),
        ("enter-late", "enter_RUNNING"),
    )
    first = seen(sim, "deploy")["enter_state_time_ms"]
    assert first == millis(T0)
    entered = sim.env.status.runtime_vars["enter_state_time_ms"]
    assert seen(sim, "enter-late")["enter_state_time_ms"] == entered
    assert int(seen(sim, "enter-early")["enter_state_time_ms"]) < int(entered)
