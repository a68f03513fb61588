"""Who did what: the audit Events of GUI actions, newest first. Read-only, no HTTP here.

Every GUI write (creating an environment, its state actions, node actions) records an Event
with reason `UserAction` naming its user (the `o2.dev/changed-by` annotation and the message).
The CLI records no Events; its state commands name their user on the Environment instead
(crds.changedby), which the run log keeps. Events are leased: they expire after EVENT_TTL
(an hour), so this view covers the last hour; the run log keeps who started and stopped runs.
"""

from __future__ import annotations

from crds.kinds.event import Event
from crds.labels import CHANGED_BY
from store.api import Store

AUDIT_REASON = "UserAction"
MAX_ENTRIES = 1000


def who_of(event: Event) -> str:
    """The user an audit Event names (annotation; older Events: the message's first word)."""
    return event.metadata.annotations.get(CHANGED_BY) or event.spec.message.split(" ", 1)[0]


def matches(event: Event, *, user: str, obj: str) -> bool:
    """`user`: exact user name; `obj`: `kind/name`, or a part of the object's name."""
    if user and who_of(event) != user:
        return False
    if not obj:
        return True
    ref = event.spec.involved_object
    kind, slash, name = obj.partition("/")
    if slash:
        return ref.kind.lower() == kind.lower() and ref.name == name
    return obj in ref.name


def entry(event: Event) -> dict[str, object]:
    ref = event.spec.involved_object
    when = event.spec.last_timestamp or event.metadata.creation_timestamp
    return {
        "time": None if when is None else when.isoformat(),
        "user": who_of(event),
        "object": f"{ref.kind.lower()}/{ref.name}",
        "message": event.spec.message,
        "source": event.spec.source,
        "event": event.metadata.name,
    }


async def load_audit(
    store: Store, *, user: str = "", obj: str = "", limit: int = MAX_ENTRIES
) -> list[dict[str, object]]:
    """The audit entries, newest first, filtered by user and object."""
    events = [
        e
        for e in (await store.list(Event)).items
        if e.spec.reason == AUDIT_REASON and matches(e, user=user, obj=obj)
    ]
    entries = [entry(e) for e in events]
    entries.sort(key=lambda e: str(e["time"] or ""), reverse=True)
    return entries[:limit]
