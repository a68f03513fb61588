"""Environment status arithmetic: summaries, conditions, transition records, failures. Pure."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Literal

from controller.environments.expansion import Expansion, Hook
from controller.environments.machine import target_state
from controller.environments.observed import ROLE_SUMMARY_LIMIT, Observed
from controller.environments.runvars import run_started
from controller.environments.taskstate import task_state
from crds.conditions import READY, RECONCILING, STALLED, get_condition, set_condition
from crds.kinds.environment import (
    Environment,
    EnvironmentStatus,
    RoleSummary,
    TransitionProgress,
    TransitionRecord,
    append_history,
)
from crds.kinds.task import Task
from crds.meta import Condition
from crds.moments import TEARDOWN_EVENT

Result = Literal["Succeeded", "Failed", "Cancelled"]
MAX_MESSAGE = 1024
"""Longest status or history message kept (the status must stay far below etcd's value limit)."""


def with_run_number(
    status: EnvironmentStatus,
    run_number: int,
    *,
    started_ms: str | None = None,
    started_by: str = "",
) -> EnvironmentStatus:
    """`status` after the controller allocated `run_number` at the run-number step, at
    `started_ms` (the run's start time, recorded with the number: runvars.run_started), for
    `started_by`."""
    status = status.model_copy(update={"run_number": run_number})
    if started_ms is None:
        return status
    return run_started(status, started_ms, started_by=started_by)


def with_plugin_vars(
    status: EnvironmentStatus, returned: Iterable[Mapping[str, str]]
) -> EnvironmentStatus:
    """`status` with the variables plugin calls returned merged into status.pluginVars (in
    hook order: a later call's value wins)."""
    merged = dict(status.plugin_vars)
    for values in returned:
        merged.update(values)
    if merged == status.plugin_vars:
        return status
    return status.model_copy(update={"plugin_vars": merged})


def record(
    env: Environment,
    progress: TransitionProgress,
    *,
    now: datetime,
    to_state: str,
    result: Result,
    message: str = "",
) -> TransitionRecord:
    """The history entry of the transition `progress` of `env`, ending now."""
    started = progress.started_at
    duration = (now - started).total_seconds() if started is not None else None
    return TransitionRecord(
        event=progress.event,
        from_state=env.status.state,
        to_state=to_state,
        started_at=started,
        finished_at=now,
        duration_seconds=duration,
        result=result,
        run_number=env.status.run_number,
        message=clamp(message),
    )


def clamp(message: str) -> str:
    """`message` cut to MAX_MESSAGE characters."""
    return message if len(message) <= MAX_MESSAGE else message[: MAX_MESSAGE - 3] + "..."


def go_error(status: EnvironmentStatus, message: str, *, now: datetime) -> EnvironmentStatus:
    """`status` with a GO_ERROR transition starting now, for `message`. From ERROR (a RECOVER
    that failed) there is nothing to leave: the transition ends there and ERROR stays sticky;
    GO_ERROR from ERROR is not a transition, and planning one would fail at every reconcile."""
    message = clamp(message)
    if status.state == "ERROR":
        return status.model_copy(update={"transition": None, "message": message})
    progress = TransitionProgress(event="GO_ERROR", started_at=now, message=message)
    return status.model_copy(update={"transition": progress, "message": message})


def failed_into_error(
    env: Environment, status: EnvironmentStatus, message: str, *, now: datetime
) -> EnvironmentStatus:
    """The transition in progress failed (recorded in history); GO_ERROR starts."""
    progress = status.transition
    assert progress is not None
    entry = record(env, progress, now=now, to_state=status.state, result="Failed", message=message)
    failed = status.model_copy(update={"history": append_history(status.history, entry)})
    return go_error(answered(env, failed, progress), message, now=now)


def answered(
    env: Environment, status: EnvironmentStatus, progress: TransitionProgress
) -> EnvironmentStatus:
    """A failed RECOVER has answered the recover request: the next one needs a new request
    (as a failed transition in AliECS needs the operator again), not an endless retry."""
    if progress.event != "RECOVER":
        return status
    return status.model_copy(update={"recovered_request": env.spec.recover_request})


def hooks_failed(
    env: Environment,
    failures: Sequence[tuple[Hook, str]],
    *,
    now: datetime,
    status: EnvironmentStatus,
    progress: TransitionProgress | None,
) -> EnvironmentStatus:
    """The status to write instead of `status` when hooks of the step `progress` failed.

    `progress` is the transition at the step the hooks ran in (Plan.transition; it may have
    started in the same plan). Only critical failures matter (during DESTROY they are only
    reported; during GO_ERROR see `go_error_hooks_failed`), and as in AliECS (where the caller
    of a failed transition runs GO_ERROR) they send the environment through GO_ERROR to ERROR:
    at before_/leave_ the transition fails where it stood (GO_ERROR leaves the source state, so
    its leave_<SOURCE> hooks run; a run number already allocated is kept for the GO_ERROR hooks
    and dropped when ERROR is reached), at enter_/after_ the tasks already got there, so
    GO_ERROR leaves the destination.
    """
    critical = [(h, m) for h, m in failures if h.critical]
    if not critical or progress is None:
        return status
    message = "; ".join(f"hook {h.path} failed: {m}" for h, m in critical[:3])
    if len(critical) > 3:
        message = f"{len(critical)} critical hooks failed: {message}"
    if progress.event == TEARDOWN_EVENT:
        return status.model_copy(update={"message": clamp(message)})
    message = f"{progress.event} failed at {progress.step}: {message}"
    if progress.event == "GO_ERROR":
        return go_error_hooks_failed(env, message, now=now, status=status, progress=progress)
    base = env.status
    early = progress.step.startswith(("before_", "leave_"))
    target = base.state if early else target_state(base.state, progress.event)
    entry = record(env, progress, now=now, to_state=target, result="Failed", message=message)
    done = base.model_copy(update={"state": target, "history": append_history(base.history, entry)})
    return go_error(answered(env, done, progress) if early else done, message, now=now)


def go_error_hooks_failed(
    env: Environment,
    message: str,
    *,
    now: datetime,
    status: EnvironmentStatus,
    progress: TransitionProgress,
) -> EnvironmentStatus:
    """A critical hook failed during GO_ERROR, handled as AliECS's state machine does.

    At before_GO_ERROR or leave_<STATE> AliECS's GO_ERROR is cancelled (no tasks step, no
    enter_ERROR or after_GO_ERROR hooks) and the environment is forced into ERROR
    (HandleFailedGoError): here the GO_ERROR is recorded as Failed into ERROR and the run
    number, if any, moves to lastRunNumber (no run goes on in ERROR; tasks still RUNNING are
    stopped by the ERROR state's own rule). At enter_ERROR or after_GO_ERROR the state is
    ERROR already: the hooks of the later weights of the same moment and weight sign are
    skipped (TransitionProgress.failedStep), the others run, and the failure is reported.
    """
    base = env.status
    if progress.step.startswith(("before_", "leave_")):
        entry = record(env, progress, now=now, to_state="ERROR", result="Failed", message=message)
        update: dict[str, object] = {
            "state": "ERROR",
            "transition": None,
            "history": append_history(base.history, entry),
            "message": clamp(message),
        }
        if base.run_number is not None:
            update.update(run_number=None, last_run_number=base.run_number)
        return base.model_copy(update=update)
    current = status.transition
    if current is None:  # that was the last step: GO_ERROR is over
        return status.model_copy(update={"message": clamp(message)})
    skipping = current.model_copy(update={"failed_step": progress.step})
    return status.model_copy(update={"transition": skipping, "message": clamp(message)})


def skipped_after_failure(progress: TransitionProgress, step_id: str) -> bool:
    """Whether the hook step `step_id` is skipped because a critical hook failed at
    `progress.failed_step`: a later step of the same moment with a weight of the same sign
    (AliECS stops a moment's negative or its zero-and-positive weights at the first critical
    failure)."""
    if not progress.failed_step:
        return False
    failed, failed_weight = _moment_and_weight(progress.failed_step)
    moment, weight = _moment_and_weight(step_id)
    same_sign = (weight < 0) == (failed_weight < 0)
    return moment == failed and same_sign and weight > failed_weight


def _moment_and_weight(step_id: str) -> tuple[str, int]:
    """`after_GO_ERROR+100` -> (`after_GO_ERROR`, 100)."""
    moment = step_id.rstrip("+-0123456789")
    rest = step_id[len(moment) :]
    return moment, int(rest) if rest else 0


def clear_stalled(conditions: tuple[Condition, ...], *, now: datetime) -> tuple[Condition, ...]:
    """Stalled=False, if a Stalled condition is there at all."""
    if get_condition(conditions, STALLED) is None:
        return conditions
    cond = Condition(type=STALLED, status="False", reason="Progressing")
    return set_condition(conditions, cond, now=now)


def stalled(env: Environment, reason: str, message: str, *, now: datetime) -> EnvironmentStatus:
    """`env.status` with Stalled=True for `reason` and `message` as the status message."""
    cond = Condition(
        type=STALLED,
        status="True",
        reason=reason,
        message=message,
        observed_generation=env.metadata.generation,
    )
    conditions = set_condition(env.status.conditions, cond, now=now)
    return env.status.model_copy(update={"conditions": conditions, "message": message})


def summarize(
    env: Environment,
    status: EnvironmentStatus,
    expansion: Expansion | None,
    tasks: Sequence[Task],
    *,
    now: datetime,
    view: Observed | None = None,
) -> EnvironmentStatus:
    """Task counts, per-role summary, Ready/Reconciling and observedGeneration; the counts
    kept by `view` (the same `tasks` as the last pass saw them) when given."""
    counts = _counts(expansion, tasks, view)
    summary = status.model_copy(
        update={"message": clamp(status.message), "task_total": len(tasks), **counts}
    )
    return summary.model_copy(
        update={
            "conditions": conditions_for(env, summary, now=now),
            "observed_generation": env.metadata.generation,
        }
    )


def _counts(
    expansion: Expansion | None, tasks: Sequence[Task], view: Observed | None
) -> dict[str, object]:
    """status.taskCounts and status.roles of `tasks`."""
    per_template = view.template_counts() if view is not None else None
    if view is not None and per_template is not None:
        roles = tuple(
            RoleSummary(path=p, tasks=sum(c.values()), states=c) for p, c in per_template.items()
        )
        return {"task_counts": view.state_counts(), "roles": roles}
    states = [task_state(t) for t in tasks]
    counts = view.state_counts() if view is not None else dict(Counter(states))
    return {"task_counts": counts, "roles": role_summaries(expansion, tasks, states=states)}


def role_summaries(
    expansion: Expansion | None, tasks: Sequence[Task], *, states: Sequence[str] | None = None
) -> tuple[RoleSummary, ...]:
    """Task counts per expanded role path; per unexpanded path (`flp-{{ detector }}.readout`)
    when there are more than ROLE_SUMMARY_LIMIT paths, so the status stays small (an expansion
    of more paths than that is summarized per template without collecting the tasks' paths
    first, as every pass over 10,000 tasks did). `states`:
    task_state() of each of `tasks`, when the caller has them already."""
    wanted = list(expansion.tasks.values()) if expansion is not None else []
    if len(wanted) > ROLE_SUMMARY_LIMIT:  # per template, whatever roles the tasks have
        group = {w.path: w.template or w.path for w in wanted}
    else:
        group = {w.path: w.path for w in wanted}
        if len({t.spec.role for t in tasks} | set(group)) > ROLE_SUMMARY_LIMIT:
            group = {w.path: w.template or w.path for w in wanted}
    by_role: dict[str, Counter[str]] = {path: Counter() for path in dict.fromkeys(group.values())}
    if states is None:
        states = [task_state(t) for t in tasks]
    paths = [group.get(role, role) for role in (t.spec.role for t in tasks)]
    for (path, state), count in Counter(zip(paths, states, strict=True)).items():
        by_role.setdefault(path, Counter())[state] = count  # counted in C, in task order
    return tuple(
        RoleSummary(path=p, tasks=sum(c.values()), states=dict(c)) for p, c in by_role.items()
    )


def conditions_for(
    env: Environment, status: EnvironmentStatus, *, now: datetime
) -> tuple[Condition, ...]:
    """Ready / Reconciling for `status` of `env` (Stalled is kept as the plan set it)."""
    gen = env.metadata.generation
    progress = status.transition
    ready = progress is None and status.state == env.spec.state
    reconciling = Condition(
        type=RECONCILING,
        status="False" if progress is None else "True",
        reason="Idle" if progress is None else progress.event,
        message="" if progress is None else progress.message,
        observed_generation=gen,
    )
    not_ready = "Error" if status.state == "ERROR" else "Progressing"
    ready_cond = Condition(
        type=READY,
        status="True" if ready else "False",
        reason="StateReached" if ready else not_ready,
        message=status.message,
        observed_generation=gen,
    )
    conditions = set_condition(status.conditions, reconciling, now=now)
    return set_condition(conditions, ready_cond, now=now)
