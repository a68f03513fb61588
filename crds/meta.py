"""Metadata, conditions and the resource base shared by every kind. Pure: no I/O."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Literal, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from crds.labels import LEGACY_KEYS, renamed, renamed_finalizers

API_VERSION = "o2/v1alpha1"

_DNS1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def _check_dns1123(value: str) -> str:
    if len(value) > 63 or not _DNS1123.match(value):
        raise ValueError(
            f"{value!r} is not a DNS-1123 label (lower-case letters, digits and '-', "
            "starting and ending with a letter or digit, at most 63 characters)"
        )
    return value


DnsName = Annotated[str, AfterValidator(_check_dns1123)]


class O2Model(BaseModel):
    """Base of every API model: frozen, unknown fields rejected, camelCase on the wire."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        use_attribute_docstrings=True,
        validate_default=False,
    )


class OwnerReference(O2Model):
    api_version: str = API_VERSION
    kind: str
    name: str
    uid: str
    controller: bool = False
    """The owner that manages this object (at most one per object)."""
    block_owner_deletion: bool = False
    """Foreground deletion of the owner waits for this dependent."""


class ObjectMeta(O2Model):
    name: DnsName
    """Unique per kind; a DNS-1123 label."""
    uid: str = ""
    """Set by the store on create; tells apart two objects that had the same name."""
    resource_version: int | None = None
    """The etcd mod_revision of the key; not stored in the value. Used for compare-and-swap."""
    generation: int = 0
    """Bumped by the store each time `spec` changes."""
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    finalizers: tuple[str, ...] = ()
    """While non-empty, delete only sets deletionTimestamp."""
    owner_references: tuple[OwnerReference, ...] = ()
    creation_timestamp: datetime | None = None
    deletion_timestamp: datetime | None = None

    @model_validator(mode="after")
    def _rename_legacy_keys(self) -> Self:
        """Metadata written before the `o2.dev/` scheme reads as if written with it, so every
        reader (and a finalizer's owner) sees one key per meaning (crds.labels.LEGACY)."""
        if (
            LEGACY_KEYS.isdisjoint(self.labels)
            and LEGACY_KEYS.isdisjoint(self.annotations)
            and LEGACY_KEYS.isdisjoint(self.finalizers)
        ):
            return self  # the usual case, on every object read: no copy, no call
        labels, annotations = renamed(self.labels), renamed(self.annotations)
        finalizers = renamed_finalizers(self.finalizers)
        if labels is not None:
            object.__setattr__(self, "labels", labels)
        if annotations is not None:
            object.__setattr__(self, "annotations", annotations)
        if finalizers is not None:
            object.__setattr__(self, "finalizers", finalizers)
        return self


ConditionStatus = Literal["True", "False", "Unknown"]


class Condition(O2Model):
    """kstatus-style condition: Ready, Reconciling, Stalled, and kind-specific ones."""

    type: str
    status: ConditionStatus
    reason: str = ""
    message: str = ""
    last_transition_time: datetime | None = None
    observed_generation: int = 0


class Status(O2Model):
    """Fields every status has."""

    observed_generation: int = 0
    conditions: tuple[Condition, ...] = ()


def utcnow() -> datetime:
    """The one clock read in crds; callers in pure code should pass `now` instead."""
    return datetime.now(UTC)
