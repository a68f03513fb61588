"""`o2 events` rows: LAST SEEN, TYPE, REASON, OBJECT, MESSAGE, COUNT (kubectl events' columns).
Pure: Event documents and `now` in, cells out."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from cli.printers import NONE, event_fields, human_age, parse_time

HEADERS = ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE", "COUNT"]
WIDE_HEADERS = [*HEADERS, "FIRST SEEN", "SOURCE", "NAME"]


def headers(*, wide: bool) -> list[str]:
    return list(WIDE_HEADERS if wide else HEADERS)


def _object(fields: Mapping[str, Any]) -> str:
    involved = fields.get("involvedObject")
    if not isinstance(involved, dict):
        return NONE
    return f"{str(involved.get('kind') or '?').lower()}/{involved.get('name') or '?'}"


def row(event: Mapping[str, Any], *, now: datetime, wide: bool) -> list[str]:
    """One Event as cells; an Event that never says when it happened shows `<none>`."""
    fields = event_fields(event)
    first = parse_time(fields.get("firstTimestamp"))
    last = parse_time(fields.get("lastTimestamp")) or first
    cells = [
        human_age(last, now=now),
        str(fields.get("type") or "Normal"),
        str(fields.get("reason") or ""),
        _object(fields),
        str(fields.get("message") or ""),
        str(fields.get("count") or 1),
    ]
    if wide:
        metadata = event.get("metadata")
        name = metadata.get("name") if isinstance(metadata, dict) else None
        cells += [human_age(first, now=now), str(fields.get("source") or NONE), str(name or NONE)]
    return cells
