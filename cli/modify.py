"""One object changed in place for `o2 edit|patch|set`: the writable parts (spec, labels,
annotations), one compare-and-swap update, and the unified diff of what changed. Edge I/O
through the Store; the changes themselves are pure functions passed in."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from cli.cas import CAS_ATTEMPTS
from cli.envcheck import check_environments
from cli.printers import essence, yaml_text
from crds.errors import ConflictError, FieldError, ValidationError
from crds.meta import O2Model
from crds.resource import Resource
from store.api import Store

R = TypeVar("R", bound=Resource)

STATUS_REFUSED = (
    "status is written by the controllers, never by hand; change spec (the desired state) "
    "and the controllers update status"
)


@dataclass(frozen=True)
class Change(Generic[R]):
    """An object before and after a change (after: as written, or as it would be)."""

    before: R
    after: R

    @property
    def changed(self) -> bool:
        return essence(self.before) != essence(self.after)

    def diff(self) -> str:
        """`diff -u` of the YAML of spec, labels and annotations; empty when unchanged."""
        ref = self.before.ref
        return "".join(
            difflib.unified_diff(
                yaml_text(essence(self.before)).splitlines(keepends=True),
                yaml_text(essence(self.after)).splitlines(keepends=True),
                fromfile=f"{ref} (live)",
                tofile=f"{ref} (new)",
            )
        )


def change_report(change: Change[Any], *, dry_run: bool, verb: str) -> str:
    """The diff, then `kind/name VERB` (with `(no change)` or `(dry run)`)."""
    suffix = " (no change)" if not change.changed else " (dry run)" if dry_run else ""
    return change.diff() + f"{change.before.ref} {verb}{suffix}\n"


def with_writable(
    current: R, *, spec: O2Model, labels: Mapping[str, str], annotations: Mapping[str, str]
) -> R:
    """`current` (same resourceVersion, status and server fields) with new writable parts.
    Callers pass the spec through `spec_applied_onto(current)`, so counters other writers own
    (an Environment's recoverRequest) never go backwards, as with `o2 apply`."""
    meta = current.metadata.model_copy(
        update={"labels": dict(labels), "annotations": dict(annotations)}
    )
    return current.model_copy(update={"metadata": meta, "spec": spec})


def from_document(current: R, document: Mapping[str, Any], *, source: str) -> R:
    """`current` with the writable parts of `document` (its wire form, changed), validated as a
    manifest is; changes to anything else are refused, naming the field."""
    from crds.manifest import parse_resource

    refuse_read_only(current.to_wire(), document, kind=current.kind, name=current.name)
    parsed = parse_resource(dict(document), source=source, applying=True)
    assert isinstance(parsed, type(current))
    return with_writable(
        current,
        spec=parsed.spec_applied_onto(current),
        labels=parsed.metadata.labels,
        annotations=parsed.metadata.annotations,
    )


WRITABLE_METADATA = ("labels", "annotations")


def refuse_read_only(
    before: Mapping[str, Any], after: Mapping[str, Any], *, kind: str, name: str
) -> None:
    """ValidationError naming every changed field outside spec, labels and annotations."""

    def problem(path: str, message: str) -> FieldError:
        return FieldError(path=path, message=message, kind=kind, name=name)

    problems: list[FieldError] = []
    if before.get("status") != after.get("status"):
        problems.append(problem("status", STATUS_REFUSED))
    for key in sorted(set(before) | set(after)):
        if key not in ("spec", "status", "metadata") and before.get(key) != after.get(key):
            problems.append(problem(key, "cannot be changed: the object keeps its kind"))
    meta_before, meta_after = before.get("metadata") or {}, after.get("metadata") or {}
    if not isinstance(meta_after, Mapping):
        meta_after = {}
    for key in sorted(set(meta_before) | set(meta_after)):
        if key not in WRITABLE_METADATA and meta_before.get(key) != meta_after.get(key):
            message = "is kept by the store; only labels and annotations may be changed"
            problems.append(problem(f"metadata.{key}", message))
    if problems:
        raise ValidationError(problems)


async def modify(
    store: Store,
    kind: type[R],
    name: str,
    *,
    change: Callable[[R], R],
    dry_run: bool,
    attempts: int = CAS_ATTEMPTS,
) -> Change[R]:
    """Read, `change`, validate, and write once with compare-and-swap; on a conflict (someone
    wrote in between) read again and decide again, up to `attempts` times. Nothing is written
    when nothing changed or on a dry run."""
    for attempt in range(attempts):
        current = await store.get(kind, name)
        wanted = change(current)
        result = Change(current, wanted)
        if not result.changed:
            return Change(current, current)
        await check_environments(store, [wanted])
        if dry_run:
            return result
        try:
            return Change(current, await store.update(wanted))
        except ConflictError:
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")
