"""The run history the Runs page shows: the run log (crds.runlog) read from etcd. Read-only.

No HTTP here (gui.server owns aiohttp). The log is read at each request (one range read of at
most `--run-log-size` records, about 1,000 by default): the page asks when it opens, when a
filter changes and when the live feed shows a run ended, not on every feed delta.

The transition-time vs task-count plot's points are derived here (`scaling_points`), so the page
only draws them: a run gives a START_ACTIVITY point, and its incarnation's DEPLOY and CONFIGURE
give one point each, drawn once per incarnation however many runs it had.
"""

from __future__ import annotations

from collections.abc import Iterable

from crds.runlog import LogReader, RunRecord, as_json, log_prefix, newest_first

DEFAULT_LIMIT = 200
MAX_LIMIT = 10_000


def parse_limit(text: str | None) -> int:
    """`limit=` of the query: 1..MAX_LIMIT, DEFAULT_LIMIT when absent; ValueError says why."""
    if not text:
        return DEFAULT_LIMIT
    try:
        limit = int(text)
    except ValueError:
        limit = 0
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit={text!r}: give a whole number from 1 to {MAX_LIMIT}")
    return limit


SCALING_SERIES = ("DEPLOY", "CONFIGURE", "START_ACTIVITY")
"""The plotted transitions, in legend order."""


async def load_history(
    store: object, *, environment: str = "", detector: str = "", limit: int = DEFAULT_LIMIT
) -> dict[str, object]:
    """GET /api/runs's body: the runs of the log, newest first, filtered, and the points of
    their transition-time vs task-count plot."""
    found = await read_runs(store, environment=environment, detector=detector, limit=limit)
    return {"runs": as_json(found), "scaling": scaling_points(found)}


async def read_runs(
    store: object, *, environment: str = "", detector: str = "", limit: int = DEFAULT_LIMIT
) -> list[RunRecord]:
    """The records of the log, newest first, filtered; none when the store keeps no raw keys."""
    if not isinstance(store, LogReader):
        return []
    raw = await store.list_raw(log_prefix(store.prefix))
    return newest_first(raw, environment=environment, detector=detector, limit=limit)


def scaling_points(records: Iterable[RunRecord]) -> list[dict[str, object]]:
    """Points (series, tasks, seconds, environment, runNumber) of the transition-time vs
    task-count plot, oldest run first. A record without a task count (written by an older o2)
    gives none; DEPLOY and CONFIGURE come from the record's incarnation fields, else from its
    own transitions, and a value repeated by later runs of one incarnation is drawn once, named
    by its first run."""
    points: list[dict[str, object]] = []
    seen: set[tuple[str, str, int, float]] = set()
    for record in sorted(records, key=lambda r: r.run_number):
        if record.task_count is None:
            continue
        for series, seconds in _durations(record).items():
            mark = (record.environment_uid, series, record.task_count, seconds)
            if series != "START_ACTIVITY" and mark in seen:
                continue
            seen.add(mark)
            points.append(
                {
                    "series": series,
                    "tasks": record.task_count,
                    "seconds": seconds,
                    "environment": record.environment,
                    "runNumber": record.run_number,
                }
            )
    return points


def _durations(record: RunRecord) -> dict[str, float]:
    """The run's plotted durations: its own successful transitions, the incarnation's fields
    first for DEPLOY and CONFIGURE."""
    own = {
        t.event: t.duration_seconds
        for t in record.transitions
        if t.result == "Succeeded" and t.duration_seconds is not None
    }
    kept = {"DEPLOY": record.deploy_seconds, "CONFIGURE": record.configure_seconds}
    found = {s: kept.get(s) if kept.get(s) is not None else own.get(s) for s in SCALING_SERIES}
    return {s: v for s, v in found.items() if v is not None}
