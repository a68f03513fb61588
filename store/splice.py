"""A spec write's bytes from its spec alone, onto the bytes this store wrote for its base (as a
status write's from its status alone: codec.spliced). Pure: no client, no I/O."""

from __future__ import annotations

import pydantic

from crds.meta import ObjectMeta
from crds.resource import Resource
from store.codec import own_status, spec_split, splice_model

_LAYOUT = ("api_version", "kind", "metadata", "spec", "status")
_GENERATION_KEY = b'"generation":'
_SPEC_MODELS: dict[type[Resource], type[pydantic.BaseModel] | None] = {}


def _spec_model(kind: type[Resource]) -> type[pydantic.BaseModel] | None:
    """The model of `kind`'s spec when `encode` of a `kind` holds its apiVersion, kind,
    metadata, spec and status in that order, the spec encoded alone, right before the status
    (as `splice_model`, and a spec of a model type named so)."""
    if kind in _SPEC_MODELS:
        return _SPEC_MODELS[kind]
    fields = kind.__pydantic_fields__
    field = fields.get("spec")
    model = field.annotation if field is not None else None
    found: type[pydantic.BaseModel] | None = None
    if (
        field is not None
        and splice_model(kind) is not None
        and tuple(fields) == _LAYOUT
        and isinstance(model, type)
        and issubclass(model, pydantic.BaseModel)
        and (field.serialization_alias or field.alias or "spec") == "spec"
        and not field.exclude
    ):
        found = model
    _SPEC_MODELS[kind] = found
    return found


def spec_spliced(own: bytes, stored: Resource, obj: Resource) -> bytes | None:
    """`encode_unstamped(obj)` for a spec write, from its spec alone: `obj` is merged from
    `stored` (merge_update) with a new spec and the generation bumped by one, its other
    metadata and its status object `stored`'s; `own` is what this store encoded for `stored`
    (ObjectCache.own_bytes), so `obj`'s bytes are `own`'s but for the generation's digits and
    the spec. None when the kind's bytes are laid out otherwise, the merge moved more of the
    metadata, or `obj`'s spec encodes as `own`'s does (the merge saw a spec unlike etcd's: a
    base changed in place; the generation follows the spec etcd holds). An instance changed
    in place since `own` was written does not show: its status and metadata are etcd's."""
    kind = type(obj)
    model = _spec_model(kind)
    old, new = stored.metadata, obj.metadata
    if (
        model is None
        or type(new) is not ObjectMeta  # its generation the first such key in the bytes
        or type(obj.spec) is not model
        or type(obj.status) is not splice_model(kind)
        or obj.status is not stored.status
        or new.resource_version is not None
        or new.generation != old.generation + 1
        or not _same_map(new.labels, old.labels)
        or not _same_map(new.annotations, old.annotations)
        or new.finalizers != old.finalizers
        or new.owner_references != old.owner_references
    ):
        return None
    status = own_status(own)
    spec = spec_split(own, status) if status > 0 else -1
    at = own.find(_GENERATION_KEY, 0, spec) + len(_GENERATION_KEY) if spec > 0 else -1
    digits = str(old.generation).encode()
    end = at + len(digits)
    if at < len(_GENERATION_KEY) or own[at:end] != digits or own[end] not in b",}":
        return None
    encoded = model.__pydantic_serializer__.to_json(obj.spec, by_alias=True, exclude_none=True)
    if own[spec:status] == encoded:
        return None
    generation = str(new.generation).encode()
    return b"".join((own[:at], generation, own[end:spec], encoded, own[status:]))


def _same_map(mine: dict[str, str], stored: dict[str, str]) -> bool:
    """Equal and in the same order (so encoded alike)."""
    return mine is stored or (mine == stored and (len(mine) < 2 or list(mine) == list(stored)))
