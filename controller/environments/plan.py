"""Plan one reconcile of an Environment: task changes, hooks, run number and status. Pure.

`plan(env, workflow, classes, tasks, now=...)` compares the expansion with the Task resources the
environment owns and with its status, and returns what the controller must do now. The
controller acts in this order: task deletes, creates, updates; the run number (then
`with_run_number`); hooks (on a critical failure it writes `hooks_failed(...)` instead of
`plan.status`); the status. A transition advances one step per reconcile (a tasks step that is
already complete advances at once), so a crash anywhere resumes from status.transition.step.

Task desired OCC state: STANDBY while DEPLOYED, CONFIGURED while CONFIGURED, RUNNING (with the
run number) while RUNNING; during a transition, from its tasks step on, the event's target
(GO_ERROR stops RUNNING tasks to CONFIGURED and waits for nothing). In ERROR tasks are kept as
they are (RUNNING ones stopped); nothing new is created until RECOVER, which replaces dead
processes and brings everything back to STANDBY.

Live changes: new tasks are created straight at the current target (the task controller walks
them there, so they join a run in progress); dropped tasks are stopped then deleted; properties
changes reconfigure tasks (controller.environments.taskset) while CONFIGURED, and while RUNNING
now (`spec.reconfigure: Now`) or at the next START_ACTIVITY (`NextRun`).

Failures: a critical task in ERROR or in a terminal phase starts GO_ERROR (with the task and the
reason in status.message); non-critical ones only show in the task counts. A tasks step that
takes longer than its timeout (DEPLOY: deploy_timeout, others: transition_timeout, counted from
the start of the transition) fails into GO_ERROR naming the tasks it waited for.
"""

from __future__ import annotations

from collections.abc import Container, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from controller.configs.resolve import ConfigIndex
from controller.environments.autostop import auto_stop
from controller.environments.expand import expand
from controller.environments.expansion import Expansion, Hook
from controller.environments.machine import (
    Step,
    has_teardown_hooks,
    next_event,
    recover_requested,
    target_state,
    transition_steps,
    virtual_event,
)
from controller.environments.observed import Observed
from controller.environments.runvars import crossed, first_stamp, stamp
from controller.environments.status import (
    clear_stalled,
    failed_into_error,
    go_error,
    hooks_failed,
    record,
    skipped_after_failure,
    stalled,
    summarize,
    with_run_number,
)
from controller.environments.taskset import (
    TaskSet,
    of_this_incarnation,
    properties_digest,
)
from controller.environments.wiring import wire
from crds.changedby import changed_by
from crds.conditions import STALLED, get_condition
from crds.errors import TemplateError, ValidationError
from crds.kinds.environment import (
    Environment,
    EnvironmentStatus,
    TransitionProgress,
    append_history,
)
from crds.kinds.task import Task
from crds.kinds.taskclass import TaskClass
from crds.kinds.workflow import Workflow
from crds.moments import TEARDOWN_EVENT, moment_sequence

__all__ = [
    "Note",
    "Options",
    "Plan",
    "detector_conflicts",
    "hooks_failed",
    "plan",
    "properties_digest",
    "with_run_number",
]

DETECTOR_IN_USE = "DetectorInUse"
INVALID_WORKFLOW = "InvalidWorkflow"
"""The workflow does not expand for this environment (a template error, a name not found)."""
_STEADY_TARGET = {"DEPLOYED": "STANDBY", "CONFIGURED": "CONFIGURED", "RUNNING": "RUNNING"}
EVENT_TARGET = {  # the OCC state each transition brings the tasks to
    "DEPLOY": "STANDBY",
    "CONFIGURE": "CONFIGURED",
    "START_ACTIVITY": "RUNNING",
    "STOP_ACTIVITY": "CONFIGURED",
    "RESET": "STANDBY",
    "EXIT": "DONE",
    "RECOVER": "STANDBY",
}


@dataclass(frozen=True)
class Options:
    """Timeouts of a transition's tasks step, in seconds (DEPLOY waits for placement)."""

    deploy_timeout: float = 90.0
    transition_timeout: float = 120.0


@dataclass(frozen=True)
class Note:
    """An Event to record about the environment."""

    type: str
    reason: str
    message: str


@dataclass(frozen=True)
class Plan:
    """What to do now; `status` is the status to write once it is done."""

    status: EnvironmentStatus
    create: tuple[Task, ...] = ()
    update: tuple[Task, ...] = ()
    delete: tuple[Task, ...] = ()
    start_hooks: tuple[Hook, ...] = ()
    await_hooks: tuple[Hook, ...] = ()
    allocate_run_number: bool = False
    auto_stop: bool = False
    """The run reached its auto_stop_timeout, or every basic task has ended: set spec.state to
    CONFIGURED (and write no status)."""
    auto_stop_message: str = ""
    """Why, when it is not the auto_stop_timeout."""
    notes: tuple[Note, ...] = ()
    requeue_after: float | None = None
    transition: TransitionProgress | None = None
    """The transition whose step this plan executes (the one its hooks belong to)."""
    expansion: Expansion | None = field(default=None, compare=False)
    teardown: bool = False
    """The workflow has teardown hooks: deleting the environment must wait for DESTROY (the
    controller keeps the finalizer TEARDOWN_FINALIZER on it)."""
    release: bool = False
    """The environment is being deleted and DESTROY is over: its finalizer may go."""


def detector_conflicts(mine: Sequence[str], others: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """Detector -> the other live environment already using it, for each detector of `mine`."""
    taken = {d: name for name, ds in sorted(others.items()) for d in ds}
    return {d: taken[d] for d in mine if d in taken}


def plan(
    env: Environment,
    workflow: Workflow,
    classes: Mapping[str, TaskClass],
    tasks: Sequence[Task],
    *,
    now: datetime,
    idle: Sequence[Task] = (),
    taken: Container[str] = frozenset(),
    expansion: Expansion | TemplateError | ValidationError | None = None,
    busy_detectors: Mapping[str, Sequence[str]] | None = None,
    options: Options = Options(),
    configs: ConfigIndex | None = None,
    workflows: Mapping[str, Workflow] | None = None,
) -> Plan:
    """The actions and status of one reconcile of `env` (see the module docstring).

    `tasks` are the Tasks labelled with the environment (those an earlier environment of the
    same name still owns are left to the garbage collector: see taskset.of_this_incarnation);
    `idle` the idle pool (for adoption);
    `taken` the names of all existing Tasks;
    `busy_detectors` the detectors of the other live environments, by environment name;
    `expansion` may be passed when the caller cached `expand()` of the same inputs (or the
    error it raised);
    `configs` are the ComponentConfigs templates reach with `config()`;
    `workflows` the Workflows `include:` roles may name.
    """
    try:
        if isinstance(expansion, TemplateError | ValidationError):
            raise expansion
        if expansion is None:
            run_number = env.status.run_number
            expansion = expand(
                env,
                workflow,
                classes,
                run_number=run_number,
                configs=configs,
                workflows=workflows,
            )
    except (TemplateError, ValidationError) as exc:
        tasks = of_this_incarnation(env, tasks)
        status = summarize(
            env, stalled(env, INVALID_WORKFLOW, str(exc), now=now), None, tasks, now=now
        )
        return Plan(status=status, notes=(Note("Warning", INVALID_WORKFLOW, str(exc)),))
    view: Observed | None = expansion.observed
    seen = expansion.observed.sync_tasks(env.metadata.uid, env.name, tasks)
    if seen is None:  # a role held by two tasks: all from the tasks, as they come
        view, tasks = None, of_this_incarnation(env, tasks)
    else:
        tasks = seen
    wired = wire(expansion, env.name, tasks)
    if view is not None:
        view.sync_wants(wired)
    taskset = TaskSet(env, wired, tasks, idle, now, taken, view=view)
    held = set(env.status.detectors)
    new = [d for d in expansion.detectors if d not in held]
    clash = detector_conflicts(new, busy_detectors or {})
    planner = _Planner(env, taskset, now, options, clash)
    result = planner.idle() if env.status.transition is None else planner.step()
    status = _claim_detectors(env, result.status, expansion, clash, now=now)
    status = summarize(env, status, expansion, tasks, now=now, view=view)
    status = record_config_versions(status, taskset)
    notes = (*result.notes, *_finished_notes(env.status, status))
    deleting = env.metadata.deletion_timestamp is not None
    result = replace(
        result,
        status=status,
        notes=notes,
        expansion=expansion,
        teardown=has_teardown_hooks(expansion.hooks),
        release=deleting and status.transition is None,
    )
    if deleting:
        return result
    if _basic_tasks_done(env, status, taskset):
        return replace(result, auto_stop=True, auto_stop_message=BASIC_TASKS_DONE)
    stop = auto_stop(env, status, expansion.auto_stop, now=now)
    if stop.remaining is not None:
        before = result.requeue_after
        later = stop.remaining if before is None else min(before, stop.remaining)
        return replace(result, requeue_after=later)
    return replace(result, auto_stop=stop.due)


BASIC_TASKS_DONE = "every basic task has ended: stopping the run"


def _render_first(before: EnvironmentStatus, entered: EnvironmentStatus, steps: list[Step]) -> bool:
    """Whether a transition that just set run times must wait for the next reconcile to run its
    first step: hooks render with the expansion of the status this plan started from, so they
    would not see the new values."""
    return steps[0].kind == "hooks" and entered.runtime_vars != before.runtime_vars


def _basic_tasks_done(env: Environment, status: EnvironmentStatus, taskset: TaskSet) -> bool:
    """AliECS stops a run when a basic task ends and every task is safe to stop (a basic task
    once its process has ended, any other once RUNNING): run-to-completion work is over."""
    steady = status.state == "RUNNING" and status.transition is None
    return steady and env.spec.state == "RUNNING" and taskset.safe_to_stop()


def record_config_versions(status: EnvironmentStatus, taskset: TaskSet) -> EnvironmentStatus:
    """status.configVersions := the configs the tasks' `config()` calls resolved to, once every
    live task is configured with its desired properties and no transition runs. A change not
    applied yet (`spec.reconfigure: NextRun` while RUNNING) keeps the old refs, so the
    ComponentConfig controller keeps ConfigChangePending=True until it is applied."""
    if status.transition is not None or status.state not in ("CONFIGURED", "RUNNING"):
        return status
    if not taskset.configured_at(status.state):
        return status
    refs = dict(taskset.expansion.config_refs)
    if refs == status.config_versions:
        return status
    return status.model_copy(update={"config_versions": refs})


def _finished_notes(before: EnvironmentStatus, after: EnvironmentStatus) -> list[Note]:
    """One Event per transition that ended in this plan, with its result and duration."""
    known = set(before.history)
    notes = []
    for entry in after.history:
        if entry in known:
            continue
        took = f" in {entry.duration_seconds:.3f}s" if entry.duration_seconds is not None else ""
        run = f" (run {entry.run_number})" if entry.run_number is not None else ""
        why = f": {entry.message}" if entry.message else ""
        kind = "Normal" if entry.result == "Succeeded" else "Warning"
        text = f"{entry.event} {entry.from_state} -> {entry.to_state}{took}{run}{why}"
        notes.append(Note(kind, f"Transition{entry.result}", text))
    return notes


def _claim_detectors(
    env: Environment,
    status: EnvironmentStatus,
    expansion: Expansion,
    clash: Mapping[str, str],
    *,
    now: datetime,
) -> EnvironmentStatus:
    """status.detectors: what a live environment holds; Stalled=DetectorInUse on a clash."""
    live = status.state not in ("STANDBY", "DONE") or status.transition is not None
    held = tuple(d for d in expansion.detectors if d not in clash) if live else ()
    status = status.model_copy(update={"detectors": held})
    if clash:
        text = ", ".join(f"{d} (used by {e})" for d, e in sorted(clash.items()))
        message = f"detectors in use: {text}; no new tasks until they are free"
        return stalled(env.model_copy(update={"status": status}), DETECTOR_IN_USE, message, now=now)
    current = get_condition(status.conditions, STALLED)
    if current is not None and current.reason == DETECTOR_IN_USE and current.status == "True":
        return status.model_copy(update={"conditions": clear_stalled(status.conditions, now=now)})
    return status


@dataclass
class _Planner:
    env: Environment
    taskset: TaskSet
    now: datetime
    options: Options
    clash: Mapping[str, str]

    # ---- no transition in progress -------------------------------------------------------------

    def idle(self) -> Plan:
        status = self.env.status
        virtual = virtual_event(self.env, self.taskset.expansion.hooks)
        if virtual is not None:
            progress = TransitionProgress(event=virtual, started_at=self.now)
            return self._start(status.model_copy(update={"transition": progress}))
        if self.env.metadata.deletion_timestamp is not None:
            return Plan(status=status)
        if status.state in _STEADY_TARGET:
            failure = self.taskset.critical_failure()
            if failure:
                return self._start(go_error(status, failure, now=self.now))
        decision = next_event(
            status.state, self.env.spec.state, recover=recover_requested(self.env)
        )
        if decision.event is None:
            keep = status.state == "ERROR" and status.message
            return self._steady(status, message=status.message if keep else decision.reason)
        if decision.event == "DEPLOY" and self.clash:
            return self._steady(status, message=status.message)
        progress = TransitionProgress(event=decision.event, started_at=self.now)
        return self._start(status.model_copy(update={"transition": progress}))

    def _start(self, status: EnvironmentStatus) -> Plan:
        assert status.transition is not None
        steps = self._steps(status)
        started = self._enter(first_stamp(status, self.now), steps)
        event = status.transition.event
        note = Note("Normal", "TransitionStarted", f"{event} from {status.state}")
        if _render_first(status, started, steps):
            return Plan(status=started, notes=(note,), requeue_after=0.0)
        self._use(started)
        result = self.step()
        return replace(result, notes=(note, *result.notes))

    def _enter(self, status: EnvironmentStatus, steps: list[Step]) -> EnvironmentStatus:
        """`status` at the first step of its transition, with the run's times of the points
        before it set (controller.environments.runvars)."""
        progress = status.transition
        assert progress is not None
        positioned = status.model_copy(
            update={"transition": progress.model_copy(update={"step": steps[0].id})}
        )
        return self._stamp(positioned, None, steps[0].key)

    def _stamp(
        self,
        status: EnvironmentStatus,
        after: tuple[float, float] | None,
        before: tuple[float, float] | None,
    ) -> EnvironmentStatus:
        """`status` with the run's times of the points between the step keys `after` and
        `before` of the transition in progress set now."""
        progress = status.transition
        assert progress is not None
        sequence = moment_sequence(progress.event, status.state) or ()
        points = crossed(progress.event, (when for when, _ in sequence), after, before)
        stopper = changed_by(self.env) if progress.event == "STOP_ACTIVITY" else ""
        return stamp(status, points, self.now, stopped_by=stopper)

    def _use(self, status: EnvironmentStatus) -> None:
        self.env = self.env.model_copy(update={"status": status})
        self.taskset = replace(self.taskset, env=self.env)

    def _steady(self, status: EnvironmentStatus, *, message: str) -> Plan:
        error = status.state == "ERROR"
        target = None if error else _STEADY_TARGET.get(status.state)
        return self._tasks_toward(status.model_copy(update={"message": message}), target, cap=error)

    # ---- a transition in progress ---------------------------------------------------------------

    def step(self) -> Plan:
        status = self.env.status
        progress = status.transition
        assert progress is not None
        if self.env.metadata.deletion_timestamp is not None and progress.event != TEARDOWN_EVENT:
            return self._start(self._abandon(status))
        steps = self._steps(status)
        if not progress.step:  # GO_ERROR as a failure started it
            entered = self._enter(status, steps)
            if _render_first(status, entered, steps):
                return Plan(status=entered, requeue_after=0.0)
            self._use(entered)
            status = entered
        step_id = status.transition.step if status.transition else ""
        index = next((i for i, s in enumerate(steps) if s.id == step_id), 0)
        kind = steps[index].kind
        if kind == "run-number":
            return Plan(status=self._advance(status, steps, index), allocate_run_number=True)
        if kind == "hooks":
            return self._hooks(status, steps, index)
        return self._tasks(status, steps, index)

    def _hooks(self, status: EnvironmentStatus, steps: list[Step], index: int) -> Plan:
        step = steps[index]
        broken = [(h, h.error) for h in step.start if h.error]
        advanced = self._advance(status, steps, index)
        progress = status.transition
        if progress is not None and skipped_after_failure(progress, step.id):
            names = ", ".join(h.path for h in step.start) or "none"
            note = Note("Warning", "HooksSkipped", f"{step.id} skipped after a failure: {names}")
            return Plan(status=advanced, notes=(note,), requeue_after=0.0)
        if any(h.critical for h, _ in broken):
            failed = hooks_failed(
                self.env, broken, now=self.now, status=advanced, progress=status.transition
            )
            return Plan(status=failed, notes=(Note("Warning", "HookFailed", failed.message),))
        return Plan(
            status=advanced,
            transition=status.transition,
            start_hooks=tuple(h for h in step.start if not h.error),
            await_hooks=tuple(h for h in step.await_ if not h.error),
            notes=tuple(Note("Warning", "HookFailed", h.error) for h, _ in broken),
            requeue_after=0.0,
        )

    def _abandon(self, status: EnvironmentStatus) -> EnvironmentStatus:
        """The transition in progress, cut short by the deletion; DESTROY starts."""
        progress = status.transition
        assert progress is not None
        message = "the environment is being deleted"
        entry = record(
            self.env,
            progress,
            now=self.now,
            to_state=status.state,
            result="Cancelled",
            message=message,
        )
        teardown = TransitionProgress(event=TEARDOWN_EVENT, started_at=self.now)
        history = append_history(status.history, entry)
        return status.model_copy(update={"transition": teardown, "history": history})

    def _release(self, status: EnvironmentStatus, steps: list[Step], index: int) -> Plan:
        """DESTROY's tasks step: delete the tasks, wait (at most transition_timeout) until
        they are gone, then go on to the DESTROY hooks, which run after the processes."""
        progress = status.transition
        assert progress is not None
        owned = [t for t in self.taskset.owned if t.spec.environment == self.env.name]
        delete = tuple(t for t in owned if t.metadata.deletion_timestamp is None)
        elapsed = (self.now - (progress.started_at or self.now)).total_seconds()
        if not owned or elapsed >= self.options.transition_timeout:
            return Plan(status=self._advance(status, steps, index), requeue_after=0.0)
        message = f"waiting for {len(owned)} task(s) to be released"
        waiting = status.model_copy(
            update={"transition": progress.model_copy(update={"message": message})}
        )
        limit = self.options.transition_timeout - elapsed
        return Plan(status=waiting, delete=delete, requeue_after=limit)

    def _tasks(self, status: EnvironmentStatus, steps: list[Step], index: int) -> Plan:
        progress = status.transition
        assert progress is not None
        if progress.event == TEARDOWN_EVENT:
            return self._release(status, steps, index)
        if progress.event == "GO_ERROR":
            result = self._tasks_toward(status, None, cap=True)
            return replace(result, status=self._advance(result.status, steps, index))
        target = EVENT_TARGET[progress.event]
        result = self._tasks_toward(status, target, cap=False)
        checks_failure = progress.event not in ("EXIT", "RECOVER")
        failure = self.taskset.critical_failure() if checks_failure else ""
        if failure:
            failed = failed_into_error(self.env, status, failure, now=self.now)
            return replace(result, status=failed, requeue_after=0.0)
        count, first = self.taskset.waiting(target, first=5)
        if not count:
            advanced = self._advance(result.status, steps, index)
            return replace(result, status=advanced, requeue_after=0.0)
        return self._waiting(result, count, first)

    def _waiting(self, result: Plan, count: int, first: list[str]) -> Plan:
        status = result.status
        progress = status.transition
        assert progress is not None
        deploy = progress.event == "DEPLOY"
        limit = self.options.deploy_timeout if deploy else self.options.transition_timeout
        elapsed = (self.now - (progress.started_at or self.now)).total_seconds()
        message = f"waiting for {count} task(s): {', '.join(first)}"
        unwired = self.taskset.unwired()
        if unwired:
            message += f"; cannot configure {unwired[0]}"
        if elapsed >= limit:
            reason = f"{progress.event} timed out after {limit:g}s, {message}"
            failed = failed_into_error(self.env, self.env.status, reason, now=self.now)
            return replace(result, status=failed, requeue_after=0.0)
        waiting_progress = progress.model_copy(update={"message": message})
        return replace(
            result,
            status=status.model_copy(update={"transition": waiting_progress}),
            requeue_after=max(0.0, limit - elapsed),
        )

    def _tasks_toward(self, status: EnvironmentStatus, target: str | None, *, cap: bool) -> Plan:
        changes = self.taskset.changes(
            target=target, cap=cap, reconfigure_now=self._may_reconfigure()
        )
        return Plan(
            status=status,
            create=() if self.clash else tuple(changes.create),
            update=tuple(changes.update),
            delete=tuple(changes.delete),
        )

    def _may_reconfigure(self) -> bool:
        """RESET+CONFIGURE of stale tasks is allowed unless in a run with `NextRun`."""
        status = self.env.status
        in_run = status.state == "RUNNING" and status.transition is None
        return not in_run or self.env.spec.reconfigure == "Now"

    def _advance(
        self, status: EnvironmentStatus, steps: list[Step], index: int
    ) -> EnvironmentStatus:
        following = steps[index + 1].key if index + 1 < len(steps) else None
        status = self._stamp(status, steps[index].key, following)
        progress = status.transition
        assert progress is not None
        if index + 1 < len(steps):
            nxt = progress.model_copy(update={"step": steps[index + 1].id, "message": ""})
            return status.model_copy(update={"transition": nxt})
        return self._finish(status)

    def _finish(self, status: EnvironmentStatus) -> EnvironmentStatus:
        progress = status.transition
        assert progress is not None
        target = target_state(status.state, progress.event)
        entry = record(self.env, progress, now=self.now, to_state=target, result="Succeeded")
        update: dict[str, object] = {
            "state": target,
            "transition": None,
            "history": append_history(status.history, entry),
            "message": status.message if target == "ERROR" else "",
            "conditions": status.conditions
            if target == "ERROR"
            else clear_stalled(status.conditions, now=self.now),
        }
        if progress.event in ("STOP_ACTIVITY", "GO_ERROR") and status.run_number is not None:
            update.update(run_number=None, last_run_number=status.run_number)
        if progress.event == "RECOVER":
            update["recovered_request"] = self.env.spec.recover_request
        return status.model_copy(update=update)

    def _steps(self, status: EnvironmentStatus) -> list[Step]:
        assert status.transition is not None
        return transition_steps(status.transition.event, status.state, self.taskset.expansion.hooks)
