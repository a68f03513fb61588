"""Which Events a command shows, and reading them: the one way `o2 describe` and `o2 events`
read Events (a list of the Event kind, filtered here, oldest first). Events stay wire
documents (mappings), so a kind without a model (none registered) shows no Events."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cli.printers import event_fields, event_sort_key, is_about
from crds.errors import FieldError, NotFoundError, UnreadableObjectError, ValidationError
from store.api import Store

EVENT_TYPES = ("Normal", "Warning")


@dataclass(frozen=True)
class EventFilter:
    """About one object (`kind` and `name`; `uid` when known), of some types; empty: any."""

    kind: str = ""
    name: str = ""
    uid: str = ""
    types: frozenset[str] = frozenset()

    def wants(self, event: Mapping[str, Any]) -> bool:
        if self.types and str(event_fields(event).get("type") or "Normal") not in self.types:
            return False
        if not self.kind:
            return True
        return is_about(event, kind=self.kind, name=self.name, uid=self.uid)


def parse_for(text: str) -> tuple[str, str]:
    """`--for KIND/NAME` (any spelling of the kind: `env/physics-1`) -> (Kind, name)."""
    from crds.resource import kind_info

    kind, slash, name = text.partition("/")
    if not slash or not kind or not name:
        message = f"{text!r}: use KIND/NAME, e.g. --for env/physics-1"
        raise ValidationError([FieldError(path="--for", message=message)])
    return kind_info(kind).kind, name


def parse_types(text: str | None) -> frozenset[str]:
    """`--types Warning,Normal` (any case) -> the Event types to show."""
    if not text:
        return frozenset()
    by_lower = {t.lower(): t for t in EVENT_TYPES}
    wanted = [t.strip() for t in text.split(",") if t.strip()]
    unknown = [t for t in wanted if t.lower() not in by_lower]
    if unknown:
        message = f"unknown type {unknown[0]!r}: use {' or '.join(EVENT_TYPES)}"
        raise ValidationError([FieldError(path="--types", message=message)])
    return frozenset(by_lower[t.lower()] for t in wanted)


@dataclass(frozen=True)
class FoundEvents:
    events: list[dict[str, Any]] = field(default_factory=list)
    """The wanted Events as documents, oldest first."""
    unreadable: list[UnreadableObjectError] = field(default_factory=list)
    """Stored Events that could not be read (any object's: their key says which)."""


async def read_events(store: Store, wanted: EventFilter) -> FoundEvents:
    """The wanted Events, oldest first (by last occurrence)."""
    from crds.resource import kind_info

    try:
        info = kind_info("Event")
    except NotFoundError:
        return FoundEvents()
    result = await store.list(info.model)
    wires = [e.to_wire() for e in result.items]
    events = sorted((e for e in wires if wanted.wants(e)), key=event_sort_key)
    return FoundEvents(events=events, unreadable=list(result.unreadable))
