"""Manifest files of one commit -> validated resources, all or nothing. Pure (crds.manifest,
crds.aliecs).

The same reader and validation as `o2 apply`: every document of every file is checked before
anything is returned, and an object defined twice (in one file or across files) is an error.
With `format: aliecs` the files are an AliECS repository, read by the translator `o2 convert
aliecs` uses (crds.aliecs.load), with the same all-or-nothing rule.
"""

from __future__ import annotations

from collections.abc import Sequence

from controller.gitsource.git import ManifestFile
from crds.aliecs.load import translate
from crds.errors import FieldError, ValidationError
from crds.manifest import parse_documents
from crds.resource import Resource

MAX_REPORTED = 10
"""Errors rendered into status.message (all of them are in the Event's count)."""


def parse_source(
    files: Sequence[ManifestFile], *, fmt: str, root: str
) -> tuple[list[Resource], list[FieldError]]:
    """Every resource of one commit in the GitSource's `format`, and the warnings (constructs
    an AliECS repository holds that AliECS ignores, so o2 does too); ValidationError lists
    every problem. `root` is spec.path (AliECS's workflows/ and tasks/ are directly under it)."""
    if fmt != "aliecs":
        return parse_files(files), []
    translation = translate(files, root=root)
    return translation.objects, translation.warnings


def describe_warnings(warnings: Sequence[FieldError], *, commit: str) -> str:
    """`commit <sha>: N ignored: <file:line>: <construct>: problem; ...` (first few)."""
    shown = "; ".join(w.render() for w in warnings[:MAX_REPORTED])
    more = len(warnings) - MAX_REPORTED
    tail = f"; and {more} more" if more > 0 else ""
    return f"commit {commit[:12]}: {len(warnings)} AliECS construct(s) ignored: {shown}{tail}"


def parse_files(files: Sequence[ManifestFile]) -> list[Resource]:
    """Every resource in `files`; ValidationError lists every problem in every file."""
    objs: list[Resource] = []
    errors: list[FieldError] = []
    seen: dict[tuple[str, str], str] = {}
    for manifest in files:
        try:
            docs = parse_documents(manifest.text, source=manifest.path)
        except ValidationError as exc:
            errors.extend(exc.errors)
            continue
        for obj in docs:
            key = (obj.kind, obj.name)
            if key in seen:
                errors.append(_duplicate(obj, path=manifest.path, first=seen[key]))
                continue
            seen[key] = manifest.path
            objs.append(obj)
    if errors:
        raise ValidationError(errors)
    return objs


def describe_errors(exc: ValidationError, *, commit: str) -> str:
    """`commit <sha>: <file>: document N: Kind/name: field: problem; ...` (first few)."""
    shown = [e.render() for e in exc.errors[:MAX_REPORTED]]
    more = len(exc.errors) - len(shown)
    tail = f"; and {more} more" if more > 0 else ""
    return f"commit {commit[:12]} not applied: " + "; ".join(shown) + tail


def _duplicate(obj: Resource, *, path: str, first: str) -> FieldError:
    return FieldError(
        path="metadata.name",
        message=f"{obj.ref} is also defined in {first}",
        source=path,
        kind=obj.kind,
        name=obj.name,
    )
