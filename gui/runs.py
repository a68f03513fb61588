"""The run history the Runs page shows: the run log (crds.runlog) read from etcd. Read-only.

No HTTP here (gui.server owns aiohttp). The log is read at each request (one range read of at
most `--run-log-size` records, about 1,000 by default): the page asks when it opens, when a
filter changes and when the live feed shows a run ended, not on every feed delta.
"""

from __future__ import annotations

from crds.runlog import LogReader, as_json, log_prefix, newest_first

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


async def load_runs(
    store: object, *, environment: str = "", detector: str = "", limit: int = DEFAULT_LIMIT
) -> list[dict[str, object]]:
    """The runs of the log, newest first, filtered; none when the store keeps no raw keys."""
    if not isinstance(store, LogReader):
        return []
    raw = await store.list_raw(log_prefix(store.prefix))
    chosen = newest_first(raw, environment=environment, detector=detector, limit=limit)
    return as_json(chosen)
