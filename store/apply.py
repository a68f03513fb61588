"""Declarative apply (shared by `o2 apply` and GitOps sync): manifest -> stored object, via Store.

Reads manifest files from disk (read_manifest_paths); parsing and validation live in
crds.manifest. Never writes status or trusts resourceVersion/uid from a manifest.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Literal, TypeVar

from crds.errors import (
    AlreadyExistsError,
    ConflictError,
    FieldError,
    NotFoundError,
    ValidationError,
)
from crds.manifest_limits import oversize_file
from crds.resource import Resource
from store.api import Store

log = logging.getLogger(__name__)

R = TypeVar("R", bound=Resource)

ApplyOutcome = Literal["created", "configured", "unchanged"]
MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
APPLY_ATTEMPTS = 5


def fresh_status(obj: R) -> R:
    """The manifest without status: a new object starts with its kind's empty status."""
    field = type(obj).model_fields["status"]
    return obj.model_copy(update={"status": field.get_default(call_default_factory=True)})


def applied_onto(current: R, manifest: R) -> R:
    """`current` with the manifest's spec (but for fields other writers own, see
    Resource.spec_applied_onto), labels and annotations; everything else kept."""
    meta = current.metadata.model_copy(
        update={
            "labels": dict(manifest.metadata.labels),
            "annotations": dict(manifest.metadata.annotations),
        }
    )
    spec = manifest.spec_applied_onto(current)
    return current.model_copy(update={"metadata": meta, "spec": spec})


def differs(current: Resource, manifest: Resource) -> bool:
    """Whether applying `manifest` would change what is stored."""
    return (
        current.spec != manifest.spec_applied_onto(current)
        or current.metadata.labels != manifest.metadata.labels
        or current.metadata.annotations != manifest.metadata.annotations
    )


async def apply(
    store: Store, obj: Resource, *, dry_run: bool = False, attempts: int = APPLY_ATTEMPTS
) -> ApplyOutcome:
    """Create or update `obj` from its manifest; CAS with a few re-reads on conflict."""
    for _ in range(attempts):
        try:
            current = await store.get(type(obj), obj.metadata.name)
        except NotFoundError:
            if dry_run:
                return "created"
            try:
                await store.create(fresh_status(obj))
            except AlreadyExistsError:
                continue  # created meanwhile by someone else: update it instead
            log.info("Created object", extra={"object": obj.ref})
            return "created"
        if not differs(current, obj):
            return "unchanged"
        if dry_run:
            return "configured"
        try:
            await store.update(applied_onto(current, obj))
        except (ConflictError, NotFoundError):
            continue  # changed or deleted since the read: look again
        log.info("Configured object", extra={"object": obj.ref})
        return "configured"
    raise ConflictError(obj.kind, obj.metadata.name)


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
