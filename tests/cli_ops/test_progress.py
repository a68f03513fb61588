"""Verdicts, tallies and progress views of the state commands: pure logic, rendered to strings."""

from __future__ import annotations

import io

from rich.console import Console

from cli.commands.state import ends_run, plan_write
from cli.progress import (
    Goal,
    history_lines,
    judge,
    new_history,
    plain_line,
    progress_view,
    tally,
)
from cli.progress_sink import LiveSink, PlainSink
from crds.errors import ValidationError
from crds.kinds.environment import Environment, TransitionProgress
from tests.cli_ops.conftest import env_obj, task_obj

GOAL = Goal(name="alpha", target="RUNNING", generation=2)


def env_at(state: str, *, observed: int = 2, **status: object) -> Environment:
    env = env_obj("alpha", desired="RUNNING", state=state, observedGeneration=observed, **status)
    meta = env.metadata.model_copy(update={"generation": 2})
    return env.model_copy(update={"metadata": meta})


def test_reached_only_once_the_controller_observed_the_request() -> None:
    assert judge(env_at("RUNNING", observed=1), GOAL).done is False
    assert judge(env_at("RUNNING"), GOAL).done is True
    moving = TransitionProgress(event="START_ACTIVITY")
    assert judge(env_at("RUNNING", transition=moving), GOAL).done is False


def test_error_and_deletion_fail_with_a_reason() -> None:
    verdict = judge(env_at("ERROR", message="task t1 failed"), GOAL)
    assert verdict.failed and verdict.reason == "task t1 failed"
    assert judge(None, GOAL).failed


def test_a_failed_transition_fails_the_wait_as_soon_as_go_error_starts() -> None:
    failing = TransitionProgress(event="GO_ERROR", message="hook sor failed: exit code 1")
    verdict = judge(env_at("CONFIGURED", transition=failing), GOAL)
    assert verdict.failed and "hook sor failed: exit code 1" in verdict.reason


def test_recover_waits_through_the_old_error_until_the_request_is_handled() -> None:
    goal = Goal(name="alpha", target="RUNNING", generation=2, recover_request=1)
    waiting = judge(env_at("ERROR", message="old"), goal)
    assert not waiting.done and not waiting.failed
    assert judge(env_at("ERROR", recoveredRequest=1), goal).failed
    assert judge(env_at("RUNNING", recoveredRequest=1), goal).done


def test_tally_counts_tasks_at_target_by_state_and_lists_failing_ones() -> None:
    tasks = [
        task_obj("a", env="alpha", state="RUNNING"),
        task_obj("b", env="alpha", state="CONFIGURED"),
        task_obj("c", env="alpha", state=None, phase="Lost"),
    ]
    counts = tally(tasks, target="RUNNING")
    assert (counts.total, counts.reached) == (3, 1)
    assert counts.by_state == {"CONFIGURED": 1, "Lost": 1, "RUNNING": 1}
    assert [t.metadata.name for t in counts.failing] == ["c"]
    assert tally(tasks, target="DEPLOYED").reached == 0  # DEPLOYED means tasks in STANDBY


def test_state_commands_write_the_documented_desired_states() -> None:
    env = env_obj("alpha", desired="STANDBY", state="STANDBY")
    targets = {
        c: plan_write(c, env).spec.state
        for c in ("deploy", "configure", "start", "stop", "reset", "exit")
    }
    assert targets == {
        "deploy": "DEPLOYED",
        "configure": "CONFIGURED",
        "start": "RUNNING",
        "stop": "CONFIGURED",
        "reset": "DEPLOYED",
        "exit": "DONE",
    }
    try:
        plan_write("recover", env)
    except ValidationError as exc:
        assert "not ERROR" in str(exc)
    else:
        raise AssertionError("recover outside ERROR was accepted")


def test_only_leaving_running_counts_as_ending_a_run() -> None:
    running = env_obj("alpha", desired="RUNNING", state="RUNNING")
    assert [c for c in ("start", "stop", "reset", "exit", "recover") if ends_run(c, running)] == [
        "stop",
        "reset",
        "exit",
    ]
    assert not ends_run("stop", env_obj("alpha", state="CONFIGURED"))


def test_live_view_shows_transition_step_run_and_a_bar_of_tasks_at_target() -> None:
    env = env_at(
        "CONFIGURED",
        runNumber=12,
        transition=TransitionProgress(event="START_ACTIVITY", step="tasks_START_ACTIVITY"),
    )
    tasks = [task_obj("a", env="alpha", state="RUNNING"), task_obj("b", env="alpha")]
    buffer = io.StringIO()
    Console(file=buffer, width=120, no_color=True).print(
        progress_view(env, tally(tasks, target="RUNNING"), GOAL)
    )
    out = buffer.getvalue()
    assert "CONFIGURED -> RUNNING" in out
    assert "START_ACTIVITY, step tasks_START_ACTIVITY" in out
    assert "12" in out
    assert "1/2 tasks RUNNING" in out


def test_live_sink_draws_on_a_terminal_console_and_lists_failing_tasks() -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, width=120, force_terminal=True, no_color=True)
    sink = LiveSink(console)
    failing = [task_obj("t1", env="alpha", state="ERROR", phase="Failed", message="exit 3")]
    sink.show(env_at("ERROR"), tally(failing, target="RUNNING"), GOAL)
    sink.failed(tally(failing, target="RUNNING"))
    sink.close()
    out = buffer.getvalue()
    assert "ERROR -> RUNNING" in out
    assert "Failing tasks:" in out
    assert "exit 3" in out


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_plain_sink_prints_state_changes_at_once_and_count_changes_at_most_once_a_second() -> None:
    buffer = io.StringIO()
    clock = Clock()
    sink = PlainSink(Console(file=buffer, width=300), clock=clock, interval=1.0)
    env = env_at("CONFIGURED")
    tasks = [task_obj(n, env="alpha", state="CONFIGURED") for n in "abc"]
    sink.show(env, tally(tasks, target="RUNNING"), GOAL)
    for i in range(3):  # three count changes within the same second: held back
        tasks[i] = task_obj("abc"[i], env="alpha", state="RUNNING")
        clock.now += 0.1
        sink.show(env, tally(tasks, target="RUNNING"), GOAL)
    assert len(buffer.getvalue().splitlines()) == 1
    sink.show(env_at("RUNNING"), tally(tasks, target="RUNNING"), GOAL)  # a state change
    sink.close()
    lines = buffer.getvalue().splitlines()
    assert lines == [
        plain_line(
            env,
            tally([task_obj(n, env="alpha", state="CONFIGURED") for n in "abc"], target="RUNNING"),
            GOAL,
        ),
        plain_line(env_at("RUNNING"), tally(tasks, target="RUNNING"), GOAL),
    ]


def test_history_lists_only_transitions_recorded_after_the_request() -> None:
    old = {"event": "DEPLOY", "fromState": "STANDBY", "toState": "DEPLOYED"}
    new = {
        "event": "START_ACTIVITY",
        "fromState": "CONFIGURED",
        "toState": "CONFIGURED",
        "result": "Failed",
        "durationSeconds": 1.25,
        "message": "hook sor failed",
    }
    before = env_at("CONFIGURED", history=[old])
    after = env_at("ERROR", history=[old, new])
    assert history_lines(new_history(before, after)) == [
        "START_ACTIVITY CONFIGURED -> CONFIGURED: Failed in 1.2s: hook sor failed"
    ]
