"""Auto stop (`auto_stop_enabled` / `auto_stop_timeout`, as readout-dataflow sets them): the pure
plan with a simulated task side, and the controller on real etcd with a FakeClock."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from controller.environments.autostop import AUTO_STOP_REASON
from controller.runtime.clock import FakeClock
from crds.conditions import get_condition
from crds.kinds.environment import Environment
from crds.kinds.workflow import Workflow
from tests.environments.helpers import Sim, fresh, samples, with_vars
from tests.environments.test_controller import Harness, harness, hook_workflow

__all__ = ["harness"]

READOUT_DATAFLOW_VARS = {"auto_stop_enabled": "{{ auto_stop_timeout != 'none' }}"}
READOUT_DATAFLOW_DEFAULTS = {"auto_stop_timeout": "none"}


def with_auto_stop(workflow: Workflow) -> Workflow:
    """`workflow` with the auto-stop variables of readout-dataflow (off by default)."""
    spec = workflow.spec.model_copy(
        update={
            "defaults": {**workflow.spec.defaults, **READOUT_DATAFLOW_DEFAULTS},
            "vars": {**workflow.spec.vars, **READOUT_DATAFLOW_VARS},
        }
    )
    return workflow.model_copy(update={"spec": spec})


def running(timeout: str) -> Sim:
    env, workflow, classes = samples()
    sim = Sim(with_vars(env, auto_stop_timeout=timeout), with_auto_stop(workflow), classes)
    sim.settle()
    assert sim.env.status.state == "RUNNING"
    return sim


def test_run_stops_once_auto_stop_timeout_has_passed_since_start_completed() -> None:
    sim = running("30s")
    started = sim.env.status.history[-1].finished_at
    assert started is not None
    waiting = sim.step()
    assert not waiting.auto_stop
    assert waiting.requeue_after is not None
    assert 25 < waiting.requeue_after <= 30
    sim.now = started + timedelta(seconds=30)
    assert sim.step().auto_stop
    assert sim.env.spec.state == "CONFIGURED"
    env = sim.settle()
    assert env.status.state == "CONFIGURED" and env.status.run_number is None
    assert env.status.last_run_number == 1
    assert [h.event for h in env.status.history][-1] == "STOP_ACTIVITY"


def test_each_run_gets_its_own_limit_from_its_own_start() -> None:
    sim = running("1m")
    sim.now += timedelta(minutes=2)
    sim.settle()
    assert sim.env.status.state == "CONFIGURED"
    sim.set_spec(state="RUNNING")
    env = sim.settle()
    assert env.status.state == "RUNNING" and env.status.run_number == 2
    assert not sim.step().auto_stop


def test_auto_stop_timeout_none_runs_without_limit() -> None:
    sim = running("none")
    sim.now += timedelta(days=3)
    result = sim.step()
    assert not result.auto_stop and result.requeue_after is None
    assert sim.env.status.state == "RUNNING"


def test_auto_stop_timeout_that_is_no_duration_is_reported_with_the_variable() -> None:
    env, workflow, classes = samples()
    sim = Sim(with_vars(env, auto_stop_timeout="soon"), with_auto_stop(workflow), classes)
    sim.settle()
    stalled = get_condition(sim.env.status.conditions, "Stalled")
    assert stalled is not None and stalled.reason == "InvalidWorkflow"
    assert "auto_stop_timeout" in stalled.message and "'soon'" in stalled.message


async def test_controller_stops_the_run_at_its_auto_stop_timeout(
    harness: Harness, tmp_path: Path
) -> None:
    clock = FakeClock()
    ctl = harness.start_controller(clock=clock)
    env, workflow, classes = samples()
    for tc in classes.values():
        await harness.store.create(tc)
    await harness.store.create(with_auto_stop(hook_workflow(workflow, tmp_path / "runs.txt")))
    await harness.store.create(fresh(with_vars(env, auto_stop_timeout="90s")))
    await harness.wait_state("physics-1", "RUNNING")
    clock.advance(89)
    ctl.reconciler.requeue("physics-1")
    await harness.wait_state("physics-1", "RUNNING")
    assert not [e for e in harness.sink.events if e[1] == AUTO_STOP_REASON]
    clock.advance(2)
    ctl.reconciler.requeue("physics-1")
    stopped: Environment = await harness.wait_state("physics-1", "CONFIGURED")
    assert stopped.spec.state == "CONFIGURED"
    assert stopped.status.last_run_number == 1 and stopped.status.run_number is None
    reasons = [(name, reason) for name, reason, _ in harness.sink.events]
    assert ("physics-1", AUTO_STOP_REASON) in reasons
