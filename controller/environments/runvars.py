"""The run's time variables, set where AliECS's core sets them (environment.go). Pure.

AliECS keeps them as runtime variables of the workflow's root role; o2 keeps them in
status.runtimeVars, so hooks, plugins and the START arguments see them and a restarted
controller shows the same values. Milliseconds since the epoch, as text:

- `run_start_time_ms`: when the run number is allocated (after the negative-weight
  before_START_ACTIVITY hooks), which also clears `run_start_completion_time_ms`,
  `run_end_time_ms` and `run_end_completion_time_ms` to "" (the controller records it with the
  run number in the same etcd txn, so a retried START shows the same time, never a new one);
- `run_end_time_ms`: after the negative-weight before_STOP_ACTIVITY and before_GO_ERROR hooks,
  only while it is "" (cleared by a START, not set since);
- `run_start_completion_time_ms`: after the negative-weight after_START_ACTIVITY hooks;
- `run_end_completion_time_ms`: after the negative-weight after_STOP_ACTIVITY hooks, and after
  the negative-weight after_GO_ERROR hooks while it is "";
- `enter_state_time_ms`: when the environment's first transition starts (AliECS: at creation),
  then after the negative-weight enter_<STATE> hooks of every transition.

Not AliECS's, for the run log's startedBy/stoppedBy: `run_started_by`, set with the run number
to the user who wrote the spec the controller acts on then (crds.changedby; "" when that write
named nobody), and `run_stopped_by`, set with `run_end_time_ms` by a STOP_ACTIVITY the same way
("" for GO_ERROR). Both are taken when the moment comes, so a later write does not change them.

A point lies between two steps of a transition (machine.Step keys); the planner applies the
points a transition passes as it advances (`crossed`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from crds.kinds.environment import EnvironmentStatus

RUN_START = "run_start_time_ms"
RUN_START_COMPLETION = "run_start_completion_time_ms"
RUN_END = "run_end_time_ms"
RUN_END_COMPLETION = "run_end_completion_time_ms"
ENTER_STATE = "enter_state_time_ms"
RUN_STARTED_BY = "run_started_by"
RUN_STOPPED_BY = "run_stopped_by"

_AFTER_NEGATIVE = -0.5
"""A point's weight: after the negative-weight hooks of its moment, before the others."""


@dataclass(frozen=True)
class Point:
    """Where a transition sets a variable: `events` (empty: every one with that moment), the
    moment (machine step key order: before 0, leave 1, enter 2, after 3) and whether only a
    cleared ("") value is set."""

    events: tuple[str, ...]
    when: float
    name: str
    only_cleared: bool

    @property
    def key(self) -> tuple[float, float]:
        return (self.when, _AFTER_NEGATIVE)


POINTS = (
    Point(("STOP_ACTIVITY", "GO_ERROR"), 0.0, RUN_END, True),
    Point((), 2.0, ENTER_STATE, False),
    Point(("START_ACTIVITY",), 3.0, RUN_START_COMPLETION, False),
    Point(("STOP_ACTIVITY",), 3.0, RUN_END_COMPLETION, False),
    Point(("GO_ERROR",), 3.0, RUN_END_COMPLETION, True),
)
_WHEN = {0.0: "before", 1.0: "leave", 2.0: "enter", 3.0: "after"}


def millis(now: datetime) -> str:
    """`now` as AliECS writes times: integer milliseconds since the epoch."""
    return str(int(now.timestamp() * 1000))


def run_started(
    status: EnvironmentStatus, started_ms: str, *, started_by: str = ""
) -> EnvironmentStatus:
    """`status` of a START whose run number was allocated at `started_ms`, asked by
    `started_by`."""
    values = {
        **status.runtime_vars,
        RUN_START: started_ms,
        RUN_START_COMPLETION: "",
        RUN_END: "",
        RUN_END_COMPLETION: "",
        RUN_STARTED_BY: started_by,
        RUN_STOPPED_BY: "",
    }
    return status.model_copy(update={"runtime_vars": values})


def crossed(
    event: str,
    moments: Iterable[str],
    after: tuple[float, float] | None,
    before: tuple[float, float] | None,
) -> list[Point]:
    """The points of `event` strictly between the step keys `after` and `before` (None: the
    start, the end of the transition). `moments`: the moments (before, leave, enter, after) the
    transition has."""
    have = set(moments)
    return [
        p
        for p in POINTS
        if (not p.events or event in p.events)
        and _WHEN[p.when] in have
        and (after is None or p.key > after)
        and (before is None or p.key < before)
    ]


def stamp(
    status: EnvironmentStatus, points: Iterable[Point], now: datetime, *, stopped_by: str = ""
) -> EnvironmentStatus:
    """`status` with `points` applied at `now` (a cleared-only point leaves a value that is set,
    or absent, alone: AliECS sets an end time only after a START cleared it). Setting the run's
    end time records `stopped_by` with it."""
    values = dict(status.runtime_vars)
    for point in points:
        if point.only_cleared and values.get(point.name) != "":
            continue
        values[point.name] = millis(now)
        if point.name == RUN_END:
            values[RUN_STOPPED_BY] = stopped_by
    if values == status.runtime_vars:
        return status
    return status.model_copy(update={"runtime_vars": values})


def first_stamp(status: EnvironmentStatus, now: datetime) -> EnvironmentStatus:
    """`enter_state_time_ms` of an environment that has none yet (AliECS sets it at creation)."""
    if ENTER_STATE in status.runtime_vars:
        return status
    return status.model_copy(
        update={"runtime_vars": {**status.runtime_vars, ENTER_STATE: millis(now)}}
    )
