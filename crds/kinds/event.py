"""Event: a Kubernetes-style record of something that happened to an object. Pure.

Events keep their content in `spec` (like every kind) and have no status; the store writes
them with an etcd lease so they expire.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from pydantic import Field

from crds.meta import O2Model, Status
from crds.resource import KindInfo, PrinterColumn, Resource, register


class ObjectReference(O2Model):
    """The object an Event is about."""

    kind: str
    """The object's kind, e.g. Environment."""
    name: str
    """The object's name."""
    uid: str = ""
    """The object's uid, to tell apart objects re-created under the same name."""


class EventSpec(O2Model):
    """What happened, to what, how often."""

    involved_object: ObjectReference
    """The object it is about."""
    type: Literal["Normal", "Warning"] = "Normal"
    """Normal, or Warning for problems."""
    reason: str = Field(min_length=1)
    """CamelCase machine-readable reason, e.g. `TransitionFailed`, `Launched`."""
    message: str = ""
    """Human-readable details."""
    count: int = Field(default=1, ge=1)
    """How many times it happened (repeats are folded into one Event)."""
    first_timestamp: datetime | None = None
    """When it first happened."""
    last_timestamp: datetime | None = None
    """When it last happened."""
    source: str = ""
    """The component that reported it, e.g. `environment-controller`."""


class Event(Resource):
    """Something that happened to an object."""

    kind: Literal["Event"] = "Event"
    """Always Event."""
    spec: EventSpec
    """The event's content (Events keep it in spec, like every kind)."""
    status: Status = Field(default_factory=Status)
    """Unused: events have no status."""

    KIND: ClassVar[str] = "Event"


def _object(ev: Event) -> str:
    return f"{ev.spec.involved_object.kind.lower()}/{ev.spec.involved_object.name}"


INFO = register(
    KindInfo(
        kind="Event",
        plural="events",
        singular="event",
        short_names=("ev",),
        model=Event,
        has_status=False,
        columns=(
            PrinterColumn("TYPE", lambda o: o.spec.type),
            PrinterColumn("REASON", lambda o: o.spec.reason),
            PrinterColumn("OBJECT", _object),
            PrinterColumn("MESSAGE", lambda o: o.spec.message),
            PrinterColumn("COUNT", lambda o: str(o.spec.count), wide_only=True),
            PrinterColumn("SOURCE", lambda o: o.spec.source, wide_only=True),
            PrinterColumn("NAME", lambda o: o.metadata.name, wide_only=True),
        ),
    )
)
