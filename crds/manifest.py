"""Manifest parsing: YAML/JSON text or stored bytes to validated resources. Pure: no file I/O.

YAML is bounded (no aliases, documents per file, size, nesting: crds.manifest_limits) before it
is loaded. Every problem becomes one `FieldError` (source, 1-based document, kind/name, wire
field path); all documents are checked before anything is returned, so callers can write all or
nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import pydantic
import yaml
from pydantic_core import ErrorDetails

from crds.errors import FieldError, UnreadableObjectError, ValidationError
from crds.manifest_limits import check_yaml
from crds.meta import API_VERSION
from crds.plugins import APPLY
from crds.resource import KindInfo, Resource, all_kinds
from crds.suggest import did_you_mean

LIST_KIND = "List"
_TOO_DEEP = "nested too deeply to be a resource"
_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's loader when PyYAML was built with it (about 10x faster), else the pure one."""


@dataclass(frozen=True)
class _Document:
    """One object to validate: where it came from and its raw data."""

    index: int
    path: str
    data: object


def parse_documents(text: str, *, source: str) -> list[Resource]:
    """All resources in `text`: multi-document YAML, a JSON object or list, or a `kind: List`.

    Raises ValidationError with one FieldError per problem found in any document.
    """
    documents, errors = _load(text, source=source)
    resources: list[Resource] = []
    seen: dict[tuple[str, str], int] = {}
    for doc in documents:
        try:
            obj = parse_resource(
                doc.data, source=source, document=doc.index, path=doc.path, applying=True
            )
        except ValidationError as exc:
            errors.extend(exc.errors)
            continue
        key = (obj.kind, obj.name)
        if key in seen:
            errors.append(_duplicate(obj, source=source, document=doc.index, first=seen[key]))
            continue
        seen[key] = doc.index
        resources.append(obj)
    if errors:
        raise ValidationError(errors)
    return resources


def parse_resource(
    data: object,
    *,
    source: str = "",
    document: int | None = None,
    path: str = "",
    applying: bool = False,
) -> Resource:
    """Validate one decoded object into its kind's model; ValidationError lists every problem.
    `applying`: a manifest being applied, checked also against what is installed (the plugin
    functions a Workflow calls); a stored object stays readable when a plugin is removed."""
    where = _Where(source=source, document=document, path=path, data=data)
    if not isinstance(data, Mapping):
        raise ValidationError([where.error("", _not_a_mapping(data))])
    model, errors = _resolve_kind(data, where)
    if model is None:
        raise ValidationError(errors)
    try:
        context = {APPLY: True} if applying else None
        return model.model_validate(data, by_alias=True, by_name=False, context=context)
    except RecursionError as exc:
        raise ValidationError([*errors, where.error("", _TOO_DEEP)]) from exc
    except pydantic.ValidationError as exc:
        raise ValidationError(
            [*errors, *(where.error(_loc_path(e["loc"]), _message(e, model)) for e in exc.errors())]
        ) from exc


def decode_stored(raw: bytes, *, key: str, resource_version: int | None = None) -> Resource:
    """Parse a value read from a registry key; anything wrong raises UnreadableObjectError(key).

    When `resource_version` is given it becomes `metadata.resourceVersion` (it is not stored).
    """
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise UnreadableObjectError(key, f"not JSON: {exc}") from exc
    meta = data.get("metadata") if isinstance(data, dict) else None
    if isinstance(meta, dict) and resource_version is not None:
        meta["resourceVersion"] = resource_version
    try:
        obj = parse_resource(data, source=key)
    except ValidationError as exc:
        reasons = "; ".join(f"{e.path or '(object)'}: {e.message}" for e in exc.errors[:5])
        raise UnreadableObjectError(key, reasons) from exc
    _check_key_matches(obj, key)
    return obj


def known_kinds() -> list[str]:
    """Kind names, sorted, as errors list them."""
    return sorted(info.kind for info in all_kinds())


def model_for_kind(kind: str) -> type[Resource] | None:
    """The model class registered for an exact kind name (`Environment`), or None."""
    info = _kinds_by_name().get(kind)
    return None if info is None else info.model


_BY_NAME: dict[str, KindInfo] = {}


def _kinds_by_name() -> dict[str, KindInfo]:
    """Kind name -> KindInfo, built once (decode_stored is on the controller's hot path)."""
    if not _BY_NAME:
        _BY_NAME.update((info.kind, info) for info in all_kinds())
    return _BY_NAME


@dataclass(frozen=True)
class _Where:
    """Location facts shared by every error of one document."""

    source: str
    document: int | None
    path: str
    data: object

    def error(self, field: str, message: str) -> FieldError:
        full = ".".join(p for p in (self.path, field) if p).replace(".[", "[")
        kind, name = _kind_and_name(self.data)
        return FieldError(
            path=full,
            message=message,
            source=self.source,
            document=self.document,
            kind=kind,
            name=name,
        )


def _resolve_kind(
    data: Mapping[object, object], where: _Where
) -> tuple[type[Resource] | None, list[FieldError]]:
    errors: list[FieldError] = []
    api_version = data.get("apiVersion")
    if api_version is None:
        errors.append(where.error("apiVersion", f"missing: set apiVersion: {API_VERSION}"))
    elif api_version != API_VERSION:
        errors.append(
            where.error(
                "apiVersion",
                f"{api_version!r} is not supported: this o2 serves apiVersion {API_VERSION}",
            )
        )
    kind = data.get("kind")
    if not isinstance(kind, str) or not kind:
        known = ", ".join(known_kinds())
        errors.append(where.error("kind", f"missing: set kind to one of {known}"))
        return None, errors
    model = model_for_kind(kind)
    if model is None:
        known = ", ".join(known_kinds())
        errors.append(where.error("kind", f"unknown kind {kind!r}; known kinds: {known}"))
        return None, errors
    return (None if errors else model), errors


def _load(text: str, *, source: str) -> tuple[list[_Document], list[FieldError]]:
    """Split text into documents; syntax errors and broken bounds become FieldErrors.

    The bounds (crds.manifest_limits) are checked before libyaml builds anything.
    """
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        broken = check_yaml(text, source=source)  # JSON is YAML: the same bounds, one scan
        if broken is not None:
            return [], [broken]
        try:
            return list(_expand(json.loads(text), index=1)), []
        except (ValueError, RecursionError) as exc:
            message = _TOO_DEEP if isinstance(exc, RecursionError) else f"invalid JSON: {exc}"
            return [], [FieldError(path="", message=message, source=source, document=1)]
    broken = check_yaml(text, source=source)
    if broken is not None:
        return [], [broken]
    documents: list[_Document] = []
    index = 0
    try:
        for index, data in enumerate(yaml.load_all(text, Loader=_LOADER), start=1):
            documents.extend(_expand(data, index=index))
    except (yaml.YAMLError, RecursionError, ValueError, OverflowError) as exc:
        message = _TOO_DEEP if isinstance(exc, RecursionError) else _yaml_message(exc)
        return documents, [FieldError(path="", message=message, source=source, document=index + 1)]
    return documents, []


def _expand(data: object, *, index: int) -> Iterator[_Document]:
    """The objects inside one document: itself, or the items of a list / `kind: List`."""
    if data is None:
        return
    if isinstance(data, list):
        for i, item in enumerate(data):
            yield _Document(index=index, path=f"[{i}]", data=item)
        return
    if isinstance(data, dict) and data.get("kind") == LIST_KIND:
        items = data.get("items") or []
        if not isinstance(items, list):
            yield _Document(index=index, path="items", data=items)
            return
        for i, item in enumerate(items):
            yield _Document(index=index, path=f"items[{i}]", data=item)
        return
    yield _Document(index=index, path="", data=data)


def _yaml_message(exc: yaml.YAMLError | ValueError | OverflowError) -> str:
    """Syntax errors with their position; a scalar YAML types but cannot build (a timestamp
    like `2024-13-01`, an integer of thousands of digits) has none, so say how to fix it."""
    if not isinstance(exc, yaml.YAMLError):
        return f"invalid YAML value: {exc} (quote the value to keep it as text)"
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    if mark is None:
        return f"invalid YAML: {problem}"
    return f"invalid YAML at line {mark.line + 1}, column {mark.column + 1}: {problem}"


def _kind_and_name(data: object) -> tuple[str, str]:
    if not isinstance(data, Mapping):
        return "", ""
    kind = data.get("kind")
    meta = data.get("metadata")
    name = meta.get("name") if isinstance(meta, Mapping) else None
    return (kind if isinstance(kind, str) else ""), (name if isinstance(name, str) else "")


def _not_a_mapping(data: object) -> str:
    return f"expected an object with apiVersion, kind, metadata and spec, got {type(data).__name__}"


def _loc_path(loc: Sequence[str | int]) -> str:
    """pydantic's loc as a wire path: `spec.roles[1].roles[0].task.class`."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif "[" in part:
            continue  # a union/function tag, not a field
        else:
            out += f".{part}" if out else part
    return out


def _message(error: ErrorDetails, model: type[Resource]) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        hint = did_you_mean(model, error["loc"])
        return f"unknown field{hint or ' (not in the o2/v1alpha1 schema; fields are camelCase)'}"
    if kind == "missing":
        return "required field is missing"
    message = error["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
    if kind in ("literal_error", "enum", "string_pattern_mismatch") or kind.endswith(
        ("_type", "_parsing")
    ):
        message = f"{message} (got {_short(error.get('input'))})"
    return message


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _duplicate(obj: Resource, *, source: str, document: int, first: int) -> FieldError:
    return FieldError(
        path="metadata.name",
        message=f"{obj.ref} appears more than once (first in document {first})",
        source=source,
        document=document,
        kind=obj.kind,
        name=obj.name,
    )


def _check_key_matches(obj: Resource, key: str) -> None:
    """A value under `<prefix>/registry/<plural>/<name>` must be that kind and name."""
    parts = key.split("/")
    if len(parts) < 3 or parts[-3] != "registry":
        return
    plural, name = parts[-2], parts[-1]
    info = _kinds_by_name().get(obj.kind)
    expected = "" if info is None else info.plural
    if plural != expected or name != obj.name:
        raise UnreadableObjectError(
            key, f"holds {obj.ref}, which belongs under registry/{expected}/{obj.name}"
        )
