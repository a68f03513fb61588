"""A transition writes N task specs, then waits for N statuses. The informer's copy of each
write (a new object with the resourceVersion the store gave the write) needs nothing more with
the inputs it was built with: it is passed over without comparing its spec again, and the
status writes that follow find its live fields compared already. The memos follow the tasks
across an expansion that re-renders only the hooks (a new run number or run time)."""

from __future__ import annotations

from typing import Any

import pytest

from controller.environments.expand import expand
from controller.environments.expansion import Expansion
from controller.environments.plan import Plan, plan
from controller.environments.taskset import TaskSet, settle_written
from crds.kinds.environment import Environment
from crds.kinds.task import Task
from crds.labels import ENV_LABEL, IDLE_LABEL
from store import codec
from tests.environments.helpers import Sim, running_sim, samples, with_spec


def _owned(sim: Sim) -> list[Task]:
    return [t for t in sim.tasks.values() if t.metadata.labels.get(ENV_LABEL) == sim.env.name]


def _plan(sim: Sim, env: Environment, expansion: Expansion, tasks: list[Task]) -> Plan:
    return plan(env, sim.workflow, sim.classes, tasks, now=sim.now, expansion=expansion)


def _echo(task: Task) -> Task:
    """The informer's copy of a stored task: decoded from its bytes (new objects throughout)."""
    version = task.metadata.resource_version
    assert version is not None
    raw = codec.encode(task)
    return codec.decode(Task, raw, key=f"/o2/tasks/{task.name}", mod_revision=version)


def _status_written(task: Task, version: int, *, state: str | None = None) -> Task:
    """A status-only write: a new object and resourceVersion, the same spec object."""
    status = task.status.model_copy(update={"state": state or task.spec.state})
    return codec.with_revision(task.model_copy(update={"status": status}), version)


def _stopping(sim: Sim, expansion: Expansion) -> tuple[Environment, Plan]:
    """Every task updated: STOP of a RUNNING environment."""
    stopping = with_spec(sim.env, state="CONFIGURED")
    result = _plan(sim, stopping, expansion, _owned(sim))
    assert {t.name for t in result.update} == {t.name for t in _owned(sim)}
    return stopping.model_copy(update={"status": result.status}), result


def _count(monkeypatch: pytest.MonkeyPatch, method: str) -> list[str]:
    seen: list[str] = []
    real = getattr(TaskSet, method)

    def counting(self: TaskSet, have: Task, *args: Any, **kwargs: Any) -> Any:
        seen.append(have.name)
        return real(self, have, *args, **kwargs)

    monkeypatch.setattr(TaskSet, method, counting)
    return seen


def test_the_echo_of_a_written_update_is_passed_over_and_its_spec_compared_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sim, expansion = running_sim()
    env, result = _stopping(sim, expansion)
    written = [codec.with_revision(t, 1000 + i) for i, t in enumerate(result.update)]
    settle_written(expansion, written)
    echoes = [_echo(t) for t in written]
    updated = _count(monkeypatch, "_update")
    assert not _plan(sim, env, expansion, echoes).update
    assert updated == []  # before: every echo was looked at and its spec compared field by field
    assert all(expansion.live_diffs[t.name][0] is t.spec for t in echoes)
    compared = dict(expansion.live_diffs)
    answered = [_status_written(t, 2000 + i) for i, t in enumerate(echoes)]
    _plan(sim, env, expansion, answered)
    # RUNNING -> CONFIGURED changes nothing _update reads (configured either way, with the
    # same properties): passed over (before: each looked at again, its spec compared)
    assert updated == []
    assert all(expansion.live_diffs[n] is entry for n, entry in compared.items())
    reset = [_status_written(t, 3000 + i, state="STANDBY") for i, t in enumerate(answered)]
    _plan(sim, env, expansion, reset)
    assert sorted(updated) == sorted(t.name for t in reset)  # no longer configured: looked at


def test_a_status_answer_to_a_write_seen_before_the_write_itself_is_passed_over(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Echoes come in bursts: the task controller's answer to a spec write (a status write on
    the written object: its spec object kept) often arrives before the next pass, which then
    never sees the write's own object. It needs nothing more either (before: its
    resourceVersion was not the write's, and every such task was compared again)."""
    sim, expansion = running_sim()
    env, result = _stopping(sim, expansion)
    written = [codec.with_revision(t, 1000 + i) for i, t in enumerate(result.update)]
    settle_written(expansion, written)
    answered = [_status_written(t, 2000 + i) for i, t in enumerate(written)]
    updated = _count(monkeypatch, "_update")
    assert not _plan(sim, env, expansion, answered).update
    assert updated == []
    reset = [_status_written(t, 3000 + i, state="STANDBY") for i, t in enumerate(answered)]
    _plan(sim, env, expansion, reset)
    assert sorted(updated) == sorted(t.name for t in reset)  # no longer configured: looked at


def test_an_echo_of_another_version_or_other_inputs_is_looked_at_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sim, expansion = running_sim()
    env, result = _stopping(sim, expansion)
    written = [codec.with_revision(t, 1000 + i) for i, t in enumerate(result.update)]
    settle_written(expansion, written[1:])  # the first write lost (e.g. a conflict)
    first, second, *rest = (_echo(t) for t in written)
    other = codec.with_revision(second, 3000)  # someone else wrote it since
    updated = _count(monkeypatch, "_update")
    _plan(sim, env, expansion, [first, other, *rest])
    assert sorted(updated) == sorted([first.name, second.name])
    taskset = TaskSet(env, expansion, [first, other, *rest])
    want = next(w for w in expansion.tasks.values() if w.name == rest[0].name)
    assert taskset._settled(rest[0], want, "CONFIGURED", cap=False, now_ok=True)
    assert not taskset._settled(rest[0], want, "RUNNING", cap=False, now_ok=True)
    assert not taskset._settled(rest[0], want, "CONFIGURED", cap=True, now_ok=True)


def test_the_run_number_is_an_input_only_toward_running(monkeypatch: pytest.MonkeyPatch) -> None:
    """STOP's end clears the run number: the CONFIGURED tasks need no look again for it (a
    pass over every task of a 10,000-task environment after each STOP)."""
    sim, expansion = running_sim()
    env, result = _stopping(sim, expansion)
    stored = [_status_written(t, 1000 + i) for i, t in enumerate(result.update)]
    assert not _plan(sim, env, expansion, stored).update  # settled toward CONFIGURED
    updated = _count(monkeypatch, "_update")
    status = env.status.model_copy(update={"run_number": None, "last_run_number": 1})
    assert not _plan(sim, env.model_copy(update={"status": status}), expansion, stored).update
    assert updated == []
    starting = with_spec(sim.env, state="RUNNING")  # toward RUNNING it is one
    status = sim.env.status.model_copy(update={"run_number": 2})
    _plan(sim, starting.model_copy(update={"status": status}), expansion, stored)
    assert sorted(updated) == sorted(t.name for t in stored)


def test_only_the_spec_built_for_a_task_is_settled_by_its_write() -> None:
    sim, expansion = running_sim()
    _, result = _stopping(sim, expansion)
    task = result.update[0]
    unchanged = codec.with_revision(sim.tasks[task.name], 1000)  # a no-op: the stored spec
    settle_written(expansion, [unchanged])
    assert expansion.settled.get(task.name, (None,))[0] is not unchanged
    assert expansion.built == {}  # one plan's record, dropped once its writes are known


@pytest.mark.parametrize("report_digest", [False, True])
def test_a_written_update_needs_nothing_more_with_the_same_inputs(report_digest: bool) -> None:
    """What `settle_written` relies on: planning again from the same environment, with each
    update in place of the task it was built from (its status as it was), changes nothing in
    it; through a walk, a scale-out, a reconfigure and a stop."""
    env, workflow, classes = samples()
    sim = Sim(env, workflow, classes, report_digest=report_digest)
    checked = 0
    steps = [
        {"state": "RUNNING"},
        {"vars": {"rate": "500"}},
        {"vars": {"detectors": '["TPC", "ITS"]'}},
        {"reconfigure": "Now", "vars": {"rate": "700"}},
        {"state": "CONFIGURED"},
        {"vars": {"rate": "900"}},
        {"state": "DEPLOYED"},
    ]
    for change in steps:
        if "vars" in change:
            sim.set_vars(**change.pop("vars"))
        sim.set_spec(**change)
        for _ in range(40):
            before, stored, now = sim.env, dict(sim.tasks), sim.now
            result = sim.step()
            if result.update:
                stored.update({t.name: t for t in result.update})
                owned = [t for t in stored.values() if t.metadata.labels.get(ENV_LABEL)]
                idle = [t for t in stored.values() if t.metadata.labels.get(IDLE_LABEL)]
                again = plan(
                    before, workflow, classes, owned, idle=idle, taken=set(stored), now=now
                )
                names = {t.name for t in result.update}
                assert not names & {t.name for t in again.update}
                checked += len(names)
            busy = result.update or result.create or result.delete or result.start_hooks
            if not busy and sim.env.status.transition is None:
                break
    assert checked > 20


def test_a_hooks_only_expansion_keeps_the_task_memos_and_settles_by_its_start_arguments(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sim, expansion = running_sim()
    tasks = _owned(sim)
    assert not _plan(sim, sim.env, expansion, tasks).update
    run = sim.env.status.run_number
    again = expand(sim.env, sim.workflow, sim.classes, run_number=run, tasks_from=expansion)
    assert again.tasks is expansion.tasks
    assert again.observed is expansion.observed and again.settled is expansion.settled
    updated = _count(monkeypatch, "_update")
    assert not _plan(sim, sim.env, again, tasks).update
    assert updated == []  # before: a new expansion looked at every task again
    other = Expansion(
        tasks=again.tasks,
        hooks=again.hooks,
        start_arguments={**again.start_arguments, "extra": "1"},
        **again.task_memos(),
    )
    _plan(sim, sim.env, other, tasks)
    assert sorted(updated) == sorted(t.name for t in tasks)  # other START arguments
