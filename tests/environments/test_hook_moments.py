"""The hook moment vocabulary: parsing and validation at apply, enter_STANDBY at creation, and
DESTROY on exit and on delete, played on the simulated farm (pure plans)."""

from __future__ import annotations

import pytest

from controller.environments.machine import transition_steps
from crds.errors import ValidationError
from crds.manifest import parse_documents
from crds.moments import Moment, parse_moment
from tests.environments.helpers import T0, Sim, samples, with_hooks

TPC = {"physics-1-flp-tpc-readout", "physics-1-flp-tpc-stfb", "physics-1-qc-0"}
TEARDOWN = (
    ("destroy", "DESTROY"),
    ("destroy-early", "after_DESTROY-5"),
    ("before-destroy", "before_DESTROY"),
    ("leave-running", "leave_RUNNING"),
    ("leave-done", "leave_DONE"),
    ("leave-error", "leave_ERROR"),
)


@pytest.mark.parametrize(
    ("text", "moment"),
    [
        ("before_START_ACTIVITY-200", Moment("before", "START_ACTIVITY", -200)),
        ("START_ACTIVITY", Moment("after", "START_ACTIVITY", 0)),
        ("RUNNING+3", Moment("enter", "RUNNING", 3)),
        ("DESTROY", Moment("after", "DESTROY", 0)),
        ("after_DESTROY-99", Moment("after", "DESTROY", -99)),
        ("before_DESTROY", Moment("before", "DESTROY", 0)),
        ("enter_STANDBY", Moment("enter", "STANDBY", 0)),
        ("leave_DONE", Moment("leave", "DONE", 0)),
        ("leave_ERROR", Moment("leave", "ERROR", 0)),
        ("after_GO_ERROR+100", Moment("after", "GO_ERROR", 100)),
    ],
)
def test_every_aliecs_moment_parses_to_its_canonical_form(text: str, moment: Moment) -> None:
    assert parse_moment(text) == moment


@pytest.mark.parametrize(
    "text", ["before_RUNNING", "enter_START_ACTIVITY", "SOMETIME", "before_event", "on_RUNNING"]
)
def test_unknown_moments_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="is not a hook moment"):
        parse_moment(text)


def test_unknown_moment_is_refused_at_apply_naming_the_field_and_the_forms() -> None:
    text = """
apiVersion: o2/v1alpha1
kind: Workflow
metadata: {name: wf}
spec:
  roles:
    - name: bad
      call: {command: [echo], trigger: before_RUNNING}
"""
    with pytest.raises(ValidationError) as caught:
        parse_documents(text, source="wf.yaml")
    message = str(caught.value)
    assert "trigger" in message and "before_RUNNING" in message
    assert "enter_<STATE>" in message and "DESTROY" in message


def test_enter_standby_fires_once_at_creation_before_deploy() -> None:
    env, workflow, classes = samples()
    sim = Sim(env, with_hooks(workflow, ("created", "enter_STANDBY")), classes)
    sim.settle()
    ran = [h.path for h in sim.hooks_run]
    assert ran == ["created", "sor"]
    events = [h.event for h in sim.env.status.history]
    assert events == ["CREATE", "DEPLOY", "CONFIGURE", "START_ACTIVITY"]
    assert sim.plans[0].create == ()


def test_destroy_runs_once_after_exit_leaving_done() -> None:
    env, workflow, classes = samples()
    sim = Sim(env, with_hooks(workflow, *TEARDOWN), classes)
    sim.settle()
    sim.set_spec(state="DONE")
    sim.settle()
    sim.settle()
    ran = [h.path for h in sim.hooks_run]
    assert ran[ran.index("leave-running") :] == [
        "leave-running",  # STOP_ACTIVITY leaves RUNNING
        "before-destroy",
        "leave-done",
        "destroy-early",
        "destroy",
    ]
    assert sim.env.status.state == "DONE"
    assert [h.event for h in sim.env.status.history][-2:] == ["EXIT", "DESTROY"]


def test_delete_from_running_releases_tasks_before_the_destroy_hooks() -> None:
    env, workflow, classes = samples()
    sim = Sim(env, with_hooks(workflow, *TEARDOWN), classes)
    sim.settle()
    assert sim.plans[-1].teardown
    sim.hooks_run.clear()
    meta = sim.env.metadata.model_copy(update={"deletion_timestamp": T0})
    sim.env = sim.env.model_copy(update={"metadata": meta})
    sim.settle()
    assert [h.path for h in sim.hooks_run] == [
        "before-destroy",
        "leave-running",
        "destroy-early",
        "destroy",
    ]
    first_destroy = next(
        i
        for i, p in enumerate(sim.plans)
        if p.start_hooks[:1] and p.start_hooks[0].path == "destroy-early"
    )
    assert any(p.delete for p in sim.plans[:first_destroy])
    assert sim.tasks == {}
    assert sim.plans[-1].release and not any(p.release for p in sim.plans[:first_destroy])


def test_delete_from_error_leaves_error() -> None:
    env, workflow, classes = samples()
    sim = Sim(env, with_hooks(workflow, *TEARDOWN), classes, fail_hooks={"sor"})
    sim.settle()
    assert sim.env.status.state == "ERROR"
    sim.hooks_run.clear()
    meta = sim.env.metadata.model_copy(update={"deletion_timestamp": T0})
    sim.env = sim.env.model_copy(update={"metadata": meta})
    sim.settle()
    assert [h.path for h in sim.hooks_run] == [
        "before-destroy",
        "leave-error",
        "destroy-early",
        "destroy",
    ]
    assert sim.plans[-1].release


def test_delete_during_a_transition_cuts_it_short_and_tears_down() -> None:
    env, workflow, classes = samples()
    sim = Sim(env, with_hooks(workflow, *TEARDOWN), classes)
    sim.frozen.update(TPC)  # the tasks never report: DEPLOY waits for them
    sim.step()
    sim.step()
    assert sim.env.status.transition is not None
    meta = sim.env.metadata.model_copy(update={"deletion_timestamp": T0})
    sim.env = sim.env.model_copy(update={"metadata": meta})
    sim.settle()
    results = [(h.event, h.result) for h in sim.env.status.history]
    assert ("DEPLOY", "Cancelled") in results and results[-1] == ("DESTROY", "Succeeded")
    assert sim.plans[-1].release and sim.tasks == {}


def test_workflow_without_teardown_hooks_needs_no_finalizer() -> None:
    env, workflow, classes = samples()
    sim = Sim(env, workflow, classes)
    sim.settle()
    assert not any(p.teardown for p in sim.plans)


def test_destroy_steps_are_ordered_before_leave_tasks_after() -> None:
    env, workflow, classes = samples()
    sim = Sim(env, with_hooks(workflow, *TEARDOWN), classes)
    sim.settle()
    expansion = sim.plans[-1].expansion
    assert expansion is not None
    steps = transition_steps("DESTROY", "RUNNING", expansion.hooks)
    assert [s.id for s in steps] == [
        "before_DESTROY",
        "leave_RUNNING",
        "tasks_DESTROY",
        "after_DESTROY-5",
        "after_DESTROY",
    ]
