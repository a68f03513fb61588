"""Declarative apply (shared by `o2 apply` and GitOps sync): manifest -> stored object, via Store.

Reads manifest files from disk (read_manifest_paths); parsing and validation live in
crds.manifest. Never writes status or trusts resourceVersion/uid from a manifest.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar

from crds.errors import (
    AlreadyExistsError,
    ConflictError,
    FieldConflictError,
    FieldError,
    NotFoundError,
    ValidationError,
)
from crds.labels import APPLIED_PREFIX
from crds.manifest_limits import oversize_file
from crds.ownership import (
    MISSING,
    ConflictPolicy,
    get_path,
    leaves,
    manager_key,
    merge,
    model_defaults,
    read_record,
    record_of,
)
from crds.resource import Resource
from store.api import Store

log = logging.getLogger(__name__)

R = TypeVar("R", bound=Resource)

ApplyOutcome = Literal["created", "configured", "unchanged"]
MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
APPLY_ATTEMPTS = 5
CLI_MANAGER = "o2-apply"
"""The field manager of `o2 apply` (and `o2 up`'s samples); GitSources apply as
`gitsource.<name>`."""


def fresh_status(obj: R) -> R:
    """The manifest without status: a new object starts with its kind's empty status."""
    field = type(obj).model_fields["status"]
    return obj.model_copy(update={"status": field.get_default(call_default_factory=True)})


def with_record(obj: R, *, manager: str = CLI_MANAGER) -> R:
    """A manifest about to be created, with the record of the fields it names (crds.ownership)
    under `manager`'s annotation: the next apply knows what it owns."""
    annotations = {**obj.metadata.annotations, manager_key(manager): record_of(_named(obj))}
    meta = obj.metadata.model_copy(update={"annotations": annotations})
    return obj.model_copy(update={"metadata": meta})


def applied_onto(
    current: R, manifest: R, *, manager: str = CLI_MANAGER, policy: ConflictPolicy = "error"
) -> R:
    """`current` with what the manifest names merged in three ways (crds.ownership: fields
    other writers set stay, fields the previous apply by `manager` set and the manifest dropped
    go), counters kept from going backwards (Resource.spec_applied_onto); status and the rest
    of metadata kept. FieldConflictError under the "error" policy when the manifest names
    fields another writer changed."""
    key = manager_key(manager)
    live = {
        "spec": _wire(current.spec),
        "labels": dict(current.metadata.labels),
        "annotations": _annotations(current.metadata.annotations),
    }
    defaults = {("spec", *p): v for p, v in model_defaults(type(current.spec)).items()}
    previous = read_record(current.metadata.annotations.get(key))
    merged = merge(live, _named(manifest), defaults, previous, policy)
    if merged.conflicts and policy == "error":
        raise FieldConflictError(current.kind, current.name, merged.conflicts, manager=manager)
    kept = {k: v for k, v in current.metadata.annotations.items() if k.startswith(APPLIED_PREFIX)}
    annotations = {**merged.doc.get("annotations", {}), **kept, key: merged.record}
    meta = current.metadata.model_copy(
        update={"labels": merged.doc.get("labels", {}), "annotations": annotations}
    )
    spec = type(current.spec).model_validate(merged.doc.get("spec", {}))
    proposed = manifest.model_copy(update={"spec": spec})
    return current.model_copy(
        update={"metadata": meta, "spec": proposed.spec_applied_onto(current)}
    )


def owned_conflicts(
    current: Resource, manifest: Resource, *, manager: str = CLI_MANAGER
) -> tuple[str, ...]:
    """The fields an apply of `manifest` by `manager` would find another writer set."""
    live = {
        "spec": _wire(current.spec),
        "labels": dict(current.metadata.labels),
        "annotations": _annotations(current.metadata.annotations),
    }
    defaults = {("spec", *p): v for p, v in model_defaults(type(current.spec)).items()}
    previous = read_record(current.metadata.annotations.get(manager_key(manager)))
    return merge(live, _named(manifest), defaults, previous, "keep").conflicts


def differs(
    current: Resource,
    manifest: Resource,
    *,
    manager: str = CLI_MANAGER,
    policy: ConflictPolicy = "error",
) -> bool:
    """Whether applying `manifest` would change what is stored (FieldConflictError as
    applied_onto)."""
    return writes_anything(current, applied_onto(current, manifest, manager=manager, policy=policy))


def _named(manifest: Resource) -> dict[str, Any]:
    """What the manifest names: the spec fields it sets (not the defaults filled in), its
    labels and annotations. Values are the validated ones (a list of roles with its defaults
    filled in), so they compare equal to what the store holds."""
    full = _wire(manifest.spec)
    named: dict[str, Any] = {}
    for path, _ in leaves(manifest.spec.model_dump(mode="json", by_alias=True, exclude_unset=True)):
        value = get_path(full, path)
        if value is MISSING:  # set to null: the same as not set
            continue
        node = named
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = value
    return {
        "spec": named,
        "labels": dict(manifest.metadata.labels),
        "annotations": _annotations(manifest.metadata.annotations),
    }


def _wire(spec: Any) -> dict[str, Any]:
    return dict(spec.model_dump(mode="json", by_alias=True, exclude_none=True))


def _annotations(values: Mapping[str, str]) -> dict[str, str]:
    """Annotations less the appliers' records (never merged as fields)."""
    return {k: v for k, v in values.items() if not k.startswith(APPLIED_PREFIX)}


async def apply(
    store: Store,
    obj: Resource,
    *,
    dry_run: bool = False,
    attempts: int = APPLY_ATTEMPTS,
    manager: str = CLI_MANAGER,
    policy: ConflictPolicy = "error",
) -> ApplyOutcome:
    """Create or update `obj` from its manifest, as `manager` (field ownership: applied_onto);
    CAS with a few re-reads on conflict."""
    for _ in range(attempts):
        try:
            current = await store.get(type(obj), obj.metadata.name)
        except NotFoundError:
            if dry_run:
                return "created"
            try:
                await store.create(with_record(fresh_status(obj), manager=manager))
            except AlreadyExistsError:
                continue  # created meanwhile by someone else: update it instead
            log.info("Created object", extra={"object": obj.ref})
            return "created"
        updated = applied_onto(current, obj, manager=manager, policy=policy)
        if not writes_anything(current, updated):
            return "unchanged"
        if dry_run:
            return "configured"
        try:
            await store.update(updated)
        except (ConflictError, NotFoundError):
            continue  # changed or deleted since the read: look again
        log.info("Configured object", extra={"object": obj.ref})
        return "configured"
    raise ConflictError(obj.kind, obj.metadata.name)


def writes_anything(current: Resource, updated: Resource) -> bool:
    """Whether an apply has anything to write: the appliers' records alone are not worth a
    write (an object applied before ownership existed gets its record with its next change)."""
    return (
        updated.spec != current.spec
        or updated.metadata.labels != current.metadata.labels
        or _annotations(updated.metadata.annotations) != _annotations(current.metadata.annotations)
    )


def read_manifest_paths(paths: Sequence[str | Path]) -> list[tuple[str, str]]:
    """(source, text) for each file; directories recursively (.yaml/.yml/.json, sorted,
    hidden entries skipped). A missing path is a ValidationError naming it."""
    out: list[tuple[str, str]] = []
    errors: list[FieldError] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            out.extend((str(f), _read(f, errors)) for f in _manifest_files(path))
        elif path.is_file():
            out.append((str(path), _read(path, errors)))
        else:
            errors.append(
                FieldError(path="", source=str(path), message="no such file or directory")
            )
    if errors:
        raise ValidationError(errors)
    return out


def _manifest_files(root: Path) -> list[Path]:
    files = [
        f
        for f in root.rglob("*")
        if f.is_file()
        and f.suffix in MANIFEST_SUFFIXES
        and not any(part.startswith(".") for part in f.relative_to(root).parts)
    ]
    return sorted(files)


def _read(path: Path, errors: list[FieldError]) -> str:
    """The file's text; an oversize file is refused before it is read (crds.manifest_limits)."""
    try:
        too_big = oversize_file(path.stat().st_size, source=str(path))
        if too_big is not None:
            errors.append(too_big)
            return ""
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        errors.append(FieldError(path="", source=str(path), message=f"cannot read: {exc}"))
        return ""
