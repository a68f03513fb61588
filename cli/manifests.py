"""Manifests for apply/delete/diff: read -f paths (or stdin), validate all, order by kind."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from crds.errors import FieldError, ValidationError
from crds.manifest import parse_documents
from crds.manifest_limits import MAX_FILE_BYTES, oversize_file
from crds.resource import Resource, apply_rank
from store.apply import read_manifest_paths

STDIN = "-"


def kind_rank(obj: Resource) -> int:
    return apply_rank(obj.kind)


def ordered(objs: Sequence[Resource], *, reverse: bool = False) -> list[Resource]:
    """Stable sort by crds.resource.APPLY_ORDER (file order kept within a kind)."""
    ranked = sorted(objs, key=kind_rank)
    return list(reversed(ranked)) if reverse else ranked


def read_sources(paths: Sequence[str]) -> list[tuple[str, str]]:
    """(source name, text) for every manifest file under `paths`; `-` reads stdin once."""
    sources: list[tuple[str, str]] = []
    files: list[str] = []
    for path in paths:
        if path == STDIN:
            sources.append(("<stdin>", _read_stdin()))
        else:
            files.append(path)
    if files:
        sources.extend(read_manifest_paths(files))
    return sources


def _read_stdin() -> str:
    """Stdin, refused past MAX_FILE_BYTES without reading the rest (it may never end)."""
    text = sys.stdin.read(MAX_FILE_BYTES + 1)
    too_big = oversize_file(len(text.encode()), source="<stdin>")
    if too_big is not None:
        raise ValidationError([too_big])
    return text


def load(paths: Sequence[str]) -> list[Resource]:
    """Every resource in `paths`, validated; ValidationError lists all problems in all files."""
    if not paths:
        raise ValidationError([FieldError(path="-f", message="give at least one -f FILE|DIR|-")])
    objs: list[Resource] = []
    errors: list[FieldError] = []
    for source, text in read_sources(paths):
        try:
            objs.extend(parse_documents(text, source=source))
        except ValidationError as exc:
            errors.extend(exc.errors)
    errors.extend(_duplicates(objs))
    if errors:
        raise ValidationError(errors)
    return ordered(objs)


def _duplicates(objs: Sequence[Resource]) -> list[FieldError]:
    seen: set[tuple[str, str]] = set()
    errors: list[FieldError] = []
    for obj in objs:
        key = (obj.kind, obj.name)
        if key in seen:
            errors.append(
                FieldError(
                    path="metadata.name",
                    message=f"{obj.ref} is given more than once across the -f inputs",
                    kind=obj.kind,
                    name=obj.name,
                )
            )
        seen.add(key)
    return errors
