"""Etcd key layout, resource encode/decode and the update merge rules. Pure: no client, no I/O."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, TypeVar

import pydantic

from crds import copies
from crds.errors import UnreadableObjectError
from crds.labels import canonical
from crds.resource import Resource

R = TypeVar("R", bound=Resource)

_KIND_PLURALS: dict[type[Resource], str] = {}


def plural_of(kind: type[Resource]) -> str:
    """The registry plural of a model class (from crds' kind registry, else `<kind>s`)."""
    cached = _KIND_PLURALS.get(kind)
    if cached is not None:
        return cached
    plural = _registered_plural(kind)
    if plural is None:  # unregistered (test-only) kinds: not cached, registration may follow
        return f"{(kind.KIND or kind.__name__).lower()}s"
    _KIND_PLURALS[kind] = plural
    return plural


def _registered_plural(kind: type[Resource]) -> str | None:
    from crds.resource import info_of

    info = info_of(kind)
    return info.plural if info is not None else None


def registry_prefix(prefix: str, kind: type[Resource]) -> str:
    """`<prefix>/registry/<plural>/` (with the trailing slash: the watch/list range)."""
    return f"{prefix}/registry/{plural_of(kind)}/"


def registry_key(prefix: str, kind: type[Resource], name: str) -> str:
    return f"{prefix}/registry/{plural_of(kind)}/{name}"


def runtime_key(prefix: str, name: str) -> str:
    """`<prefix>/runtime/<name>`, e.g. `run-number`, `mesos/framework-id`."""
    return f"{prefix}/runtime/{name}"


def lease_key(prefix: str, name: str) -> str:
    """`<prefix>/leases/<name>`: leader-election keys."""
    return f"{prefix}/leases/{name}"


def name_from_key(key: str) -> str:
    return key.rsplit("/", 1)[-1]


_NO_REVISION = {"metadata": {"resource_version"}}
_set_attr = object.__setattr__


def encode(obj: Resource) -> bytes:
    """Compact JSON as stored: camelCase, no nulls, no metadata.resourceVersion."""
    serializer = type(obj).__pydantic_serializer__
    return serializer.to_json(obj, by_alias=True, exclude_none=True, exclude=_NO_REVISION)


def encode_unstamped(obj: Resource) -> bytes:
    """`encode` for an object without resourceVersion (what create and the merges build before
    the write): no exclude to apply, so faster."""
    if obj.metadata.resource_version is not None:
        return encode(obj)
    return type(obj).__pydantic_serializer__.to_json(obj, by_alias=True, exclude_none=True)


def decode(kind: type[R], raw: bytes, *, key: str, mod_revision: int) -> R:
    """Parse a stored value; resourceVersion comes from the key's mod_revision."""
    try:
        obj = kind.model_validate_json(raw)
    except pydantic.ValidationError as exc:
        reason = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(value)'}: {err['msg']}"
            for err in exc.errors()[:5]
        )
        raise UnreadableObjectError(key, reason) from exc
    if obj.metadata.name != name_from_key(key):
        raise UnreadableObjectError(
            key, f"metadata.name {obj.metadata.name!r} does not match the key's name"
        )
    return set_revision(obj, mod_revision)


replaced = copies.replaced
"""Re-exported: the merges below and the store's callers copy this way."""


_STATUS_KEY = b',"status":{'
_STATUS_MODELS: dict[type[Resource], type[pydantic.BaseModel] | None] = {}


def status_split(raw: bytes) -> int:
    """Where the value of the last `"status"` key with an object value starts in `raw` (-1:
    none). In a stored resource that is its top-level status (encode writes it last); any other
    place makes the rest no single JSON value, which `decode_onto` then refuses."""
    at = raw.rfind(_STATUS_KEY)
    return at + len(_STATUS_KEY) - 1 if at >= 0 else -1


_SPEC_KEY = b',"spec":{'


def spec_split(raw: bytes, end: int) -> int:
    """Where the value of the first `"spec"` key with an object value starts in `raw[:end]`
    (-1: none). In a stored resource that is its top-level spec: the fields before it (apiVersion,
    kind, metadata) hold no object under a user's key (labels and annotations map to strings, and
    a quote inside a string is escaped), so no such key precedes it."""
    at = raw.find(_SPEC_KEY, 0, end)
    return at + len(_SPEC_KEY) - 1 if at >= 0 else -1


def _status_model(kind: type[Resource]) -> type[pydantic.BaseModel] | None:
    """The model of `kind`'s status field, when decoding it alone gives what decoding the
    whole object would: no validator of `kind` itself may look at the object as a whole."""
    if kind in _STATUS_MODELS:
        return _STATUS_MODELS[kind]
    field = kind.__pydantic_fields__.get("status")
    model = field.annotation if field is not None else None
    decorators = kind.__pydantic_decorators__
    found: type[pydantic.BaseModel] | None = None
    if (
        isinstance(model, type)
        and issubclass(model, pydantic.BaseModel)
        and field is not None
        and (field.alias or "status") == "status"
        and not (decorators.model_validators or decorators.field_validators)
    ):
        found = model
    _STATUS_MODELS[kind] = found
    return found


def status_tail(obj: Resource) -> bytes:
    """What `encode(obj)` ends with from the status value on: the status, then the close."""
    status = obj.status
    serializer = type(status).__pydantic_serializer__
    return serializer.to_json(status, by_alias=True, exclude_none=True) + b"}"


_SPLICE_MODELS: dict[type[Resource], type[pydantic.BaseModel] | None] = {}


def splice_model(kind: type[Resource]) -> type[pydantic.BaseModel] | None:
    """The model of `kind`'s status when `encode` of a `kind` ends with its status encoded
    alone, then the close: status is the last field, named so, of a model type, and the kind
    serializes nothing after it nor any field its own way (no serializers, computed fields or
    extra fields)."""
    if kind in _SPLICE_MODELS:
        return _SPLICE_MODELS[kind]
    fields = kind.__pydantic_fields__
    field = fields.get("status")
    model = field.annotation if field is not None else None
    decorators = kind.__pydantic_decorators__
    found: type[pydantic.BaseModel] | None = None
    if (
        field is not None
        and isinstance(model, type)
        and issubclass(model, pydantic.BaseModel)
        and list(fields)[-1] == "status"
        and (field.serialization_alias or field.alias or "status") == "status"
        and not field.exclude
        and not (decorators.field_serializers or decorators.model_serializers)
        and not kind.__pydantic_computed_fields__
        and kind.model_config.get("extra") != "allow"
    ):
        found = model
    _SPLICE_MODELS[kind] = found
    return found


def spliced(own: bytes, obj: Resource) -> bytes | None:
    """`encode_unstamped(obj)` from its status alone, for a status write: `own` is what this
    store encoded for the object `obj` was merged from (ObjectCache.own_bytes), whose metadata
    (but resourceVersion) and spec `obj` keeps, so its bytes up to the status are `obj`'s. None
    when the kind's bytes end otherwise, `obj`'s status is of a subclass (encoded as its own
    type alone, as the declared one inside), or `own` holds the status key more than once (a
    key of a free-form map: the top-level one is not told apart). An instance changed in place
    since `own` was written does not show: its bytes are those etcd holds."""
    model = splice_model(type(obj))
    if model is None or type(obj.status) is not model:
        return None
    at = own_status(own)
    return own[: at + len(_STATUS_KEY) - 1] + status_tail(obj) if at >= 0 else None


def own_status(own: bytes) -> int:
    """Where the status key of `own`, a stored resource's bytes, starts: -1 when it holds none,
    or more than one (a key of a free-form map: the top-level one is not told apart)."""
    at = own.find(_STATUS_KEY)
    return at if at >= 0 and own.find(_STATUS_KEY, at + 1) < 0 else -1


def decode_onto(base: R, raw: bytes, split: int, *, mod_revision: int) -> R | None:
    """`raw` decoded from its status alone, onto `base`: an object whose stored bytes equal
    `raw` before `split` (`status_split`), so whose metadata and spec are `raw`'s. None when
    that cannot be done (the caller decodes the whole value, which also names any error).
    The result shares `base`'s metadata parts and spec: a status write costs its status."""
    model = _status_model(type(base))
    if model is None or raw[-1:] != b"}":
        return None
    try:
        status = model.model_validate_json(raw[split:-1])
    except pydantic.ValidationError:
        return None
    meta = replaced(base.metadata, {})  # a copy with no new field-name set, then stamped
    _set_attr(meta, "resource_version", mod_revision)
    return replaced(base, {"metadata": meta, "status": status})


def with_meta(obj: R, **changes: Any) -> R:
    """A copy of `obj` with metadata fields replaced (models are frozen)."""
    return replaced(obj, {"metadata": replaced(obj.metadata, changes)})


def with_revision(obj: R, revision: int) -> R:
    return with_meta(obj, resource_version=revision)


def set_revision(obj: R, revision: int | None) -> R:
    """Stamp resourceVersion in place, on an object whose metadata this module has just built
    (decode, prepare_create, merge_*, mark_deleted) and nobody else holds yet: saves a copy."""
    _set_attr(obj.metadata, "resource_version", revision)
    return obj


def prepare_create(obj: R, *, now: datetime) -> R:
    """Fields the store owns on create: uid, creationTimestamp, generation 1, no deletion."""
    return with_meta(
        obj,
        uid=str(uuid.uuid4()),
        creation_timestamp=now,
        generation=1,
        resource_version=None,
        deletion_timestamp=None,
    )


def merge_update(stored: R, desired: R) -> tuple[R, bool, bool]:
    """(merged, changed, remove): caller's spec/labels/annotations/finalizers/ownerReferences,
    stored status and store-owned metadata; generation bumped only when spec changed."""
    old, new = stored.metadata, desired.metadata
    spec, stored_spec = desired.spec, stored.spec
    if isinstance(spec, pydantic.BaseModel):  # scalars first: a write changes state, mostly
        spec_changed = not same_model(spec, stored_spec)
    else:
        spec_changed = spec != stored_spec
    changed = (
        spec_changed
        or new.labels != old.labels
        or new.annotations != old.annotations
        or tuple(new.finalizers) != tuple(old.finalizers)
        or tuple(new.owner_references) != tuple(old.owner_references)
    )
    if not changed:
        return stored, False, False
    meta = replaced(
        old,
        {
            "labels": _owned(new.labels, old.labels),
            "annotations": _owned(new.annotations, old.annotations),
            "finalizers": tuple(new.finalizers),
            "owner_references": tuple(new.owner_references),
            "generation": old.generation + (1 if spec_changed else 0),
        },
    )
    merged = replaced(stored, {"metadata": meta, "spec": desired.spec})
    remove = old.deletion_timestamp is not None and not meta.finalizers
    return merged, True, remove


def _owned(mine: dict[str, str], stored: dict[str, str]) -> dict[str, str]:
    """The caller's dict as the merged object's own: a copy, unless it is the stored object's
    own already (a caller that kept the object's labels, as most spec writes do)."""
    return stored if mine is stored else dict(mine)


def merge_status(stored: R, desired: R) -> tuple[R, bool]:
    """(merged, changed): the caller's status on the stored object; nothing else moves."""
    if same_model(desired.status, stored.status):
        return stored, False
    fresh_meta = replaced(stored.metadata, {})  # merged objects own their metadata
    return replaced(stored, {"status": desired.status, "metadata": fresh_meta}), True


_NESTED = (pydantic.BaseModel, tuple, list, dict)
"""Values `same_model` compares last (a tuple: `A | B` builds a union object each time)."""


def same_model(a: pydantic.BaseModel, b: pydantic.BaseModel) -> bool:
    """`a == b` for models of the same type, looking at plain fields before nested ones: a
    status write usually changes a scalar (state, phase), and pydantic's __eq__ walks the
    conditions first."""
    if a is b:
        return True
    if type(a) is not type(b):
        return False
    mine, theirs = a.__dict__, b.__dict__
    if mine.keys() != theirs.keys():
        return False
    nested = []
    for name, value in mine.items():
        other = theirs[name]
        if value is other:
            continue
        if isinstance(value, _NESTED):
            nested.append((value, other))
        elif value != other:
            return False
    return all(x == y for x, y in nested) and a == b


def mark_deleted(stored: R, *, now: datetime) -> tuple[R, bool]:
    """Set deletionTimestamp once (finalizers pending); (obj, changed)."""
    if stored.metadata.deletion_timestamp is not None:
        return stored, False
    return with_meta(stored, deletion_timestamp=now), True


def matches_labels(obj: Resource, labels: dict[str, str] | None) -> bool:
    """Every selector term holds; a deprecated key selects its `o2.dev/` name (crds.labels)."""
    if not labels:
        return True
    own = obj.metadata.labels
    return all(own.get(canonical(k)) == v for k, v in labels.items())
