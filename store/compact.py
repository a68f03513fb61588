"""Smaller long-lived copies of decoded objects, for caches that hold every object of a kind.

A decoded Task costs ~10 KB in an informer's cache, and half of that is not its data:
pydantic gives every model instance its own `__pydantic_fields_set__` (a set of the field
names present in the JSON: ~200 bytes for a few names, ~2 KB for a status's twenty), although
every Task read from the store has the same few sets. The rest are the strings, each its own
copy although most repeat across thousands of objects (agent ids, hostnames, state names,
label keys, the environment's name, the task class, the command).

`compact(obj)` shares both, in place: each model's field-name set is replaced by one equal set
shared by every model of that class with the same fields (pydantic never changes it in place:
`model_copy` copies it first, and the models are frozen), and every string value is interned
(`sys.intern`: equal strings become one object). Nothing visible changes: every value stays
equal to what it was. Only for an object the caller has just decoded and nobody else uses yet
(an informer's new copy); never on an object another cache or a caller may be reading.
"""

from __future__ import annotations

import sys
from datetime import date, datetime, timedelta
from types import NoneType, UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel

_FIELD_SETS: dict[type[BaseModel], list[set[str]]] = {}
"""The shared field-name sets of each model class: a handful per class, compared by value (no
key to build: compacting allocates as little as it can, every allocation feeds the collector)."""
_SHARED: set[int] = set()
"""ids of the sets in _FIELD_SETS (kept alive there, so the ids stay theirs)."""
UNIQUE: dict[str, frozenset[str]] = {
    "ObjectMeta": frozenset({"name", "uid"}),
    "TaskSpec": frozenset({"role"}),
    "TaskStatus": frozenset({"mesos_task_id"}),
}
"""Fields (by model class name) whose strings are one per object: not interned, an entry in
the interpreter's table of interned strings would cost more than it shares."""
_NONE: frozenset[str] = frozenset()
_INERT: frozenset[Any] = frozenset({int, float, bool, NoneType, datetime, date, timedelta})
_PLANS: dict[type[BaseModel], tuple[tuple[str, ...], frozenset[str]]] = {}
"""Per model class: the fields whose values can hold something to share (`_plan`), and those
not interned. A whole object (a decode, a create's echo) looks at those only: a Task's status,
metadata and conditions have 13 fields of ints, times and tuples of ints between them (a whole
Task compacted in ~21 us instead of ~26). An update keeps one pass over its dict's items
(`_changed`), which costs less than looking each planned field up in both copies."""
_set_attr = object.__setattr__
_intern = sys.intern


def compact(obj: BaseModel, like: BaseModel | None = None) -> None:
    """Share `obj`'s field-name sets and intern its strings, in place (see the module).

    `like` is the previous version of `obj` (compacted before): every value `obj` still shares
    with it (the very same object, e.g. the metadata's labels and the spec of a status write,
    or the status fields a status write kept) is skipped, so an update costs what it changed.
    Without `like`, a nested model that already has a shared set was compacted before (an
    update's new object keeps its unchanged parts): skipped too."""
    _share_fields(obj)
    _values(obj, like.__dict__ if type(like) is type(obj) and like is not None else None)


def _share_fields(obj: BaseModel) -> None:
    fields = obj.__pydantic_fields_set__
    if id(fields) in _SHARED or not obj.model_config.get("frozen"):
        return  # shared already; or a mutable model, which adds to its set on assignment
    known = _FIELD_SETS.setdefault(type(obj), [])
    for shared in known:
        if shared == fields:
            _set_attr(obj, "__pydantic_fields_set__", shared)
            return
    known.append(fields)
    _SHARED.add(id(fields))


def _nested(obj: BaseModel, like: object) -> None:
    if isinstance(like, BaseModel):
        compact(obj, like)
    elif id(obj.__pydantic_fields_set__) not in _SHARED:
        compact(obj)


def _values(obj: BaseModel, before: dict[str, Any] | None) -> None:
    values = obj.__dict__
    names, unique = _PLANS.get(type(obj)) or _plan(type(obj))
    if before is not None:
        _changed(values, before, unique)
        return
    get = values.get
    for name in names:  # a whole object: only the fields that can hold something to share
        value: Any = get(name)
        kind = type(value)
        if kind is str:
            if name not in unique:
                values[name] = _intern(value)
        elif kind is tuple:
            if value:
                values[name] = _tuple(value, ())
        elif kind is dict:
            if value:
                _dict(value)
        elif value is not None and isinstance(value, BaseModel):
            _nested(value, None)


def _changed(values: dict[str, Any], before: dict[str, Any], unique: frozenset[str]) -> None:
    """`_values` of an update: every field is compared with the previous version's (one pass
    over the dict's items costs less than a look up of each planned field in both)."""
    for name, value in values.items():
        prior = before.get(name)
        if prior is value:
            continue  # unchanged since the previous version: compacted with it
        kind = type(value)
        if kind is str:
            if name not in unique:
                values[name] = _intern(value)
        elif kind is tuple:
            if value:
                values[name] = _tuple(value, prior if type(prior) is tuple else ())
        elif kind is dict:
            if value:
                _dict(value)
        elif isinstance(value, BaseModel):
            _nested(value, prior)


def _plan(cls: type[BaseModel]) -> tuple[tuple[str, ...], frozenset[str]]:
    """The fields of `cls` worth a look, and those of them not interned (`UNIQUE`)."""
    names = tuple(name for name, field in cls.model_fields.items() if not _inert(field.annotation))
    plan = _PLANS[cls] = (names, UNIQUE.get(cls.__name__, _NONE))
    return plan


def _inert(annotation: Any) -> bool:
    """Values of this type hold nothing to share: no string, dict or model (ints, times, None,
    tuples of those). A value of another type in such a field is left as it is (unshared:
    every value stays what it was)."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _inert(get_args(annotation)[0])
    if origin is Union or origin is UnionType:
        return all(_inert(arg) for arg in get_args(annotation))
    if origin is tuple:
        args = get_args(annotation)
        return bool(args) and all(arg is Ellipsis or _inert(arg) for arg in args)
    return annotation in _INERT


def _tuple(items: tuple[Any, ...], before: tuple[Any, ...]) -> tuple[Any, ...]:
    """`items` with its strings interned: the same tuple when they all were already. Items
    that are `before`'s at the same place (a previous version's tuple) are skipped."""
    out = None
    known = len(before)
    for i, item in enumerate(items):
        if i < known and before[i] is item:
            continue
        if type(item) is str:
            shared = _intern(item)
            if shared is not item:
                out = out or list(items)
                out[i] = shared
        elif isinstance(item, BaseModel):
            _nested(item, None)
    return items if out is None else tuple(out)


def _dict(values: dict[Any, Any]) -> None:
    """Keys and string values interned in place, model values compacted; the dict is rebuilt
    only when a key was not interned yet (a key cannot be swapped)."""
    rebuild = False
    for key, value in values.items():
        if type(value) is str:
            values[key] = _intern(value)  # a value may be replaced while iterating
        elif isinstance(value, BaseModel):
            _nested(value, None)
        if type(key) is str and _intern(key) is not key:
            rebuild = True
    if rebuild:
        items = [(_intern(k) if type(k) is str else k, v) for k, v in values.items()]
        values.clear()
        values.update(items)
