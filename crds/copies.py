"""Unvalidated copies of frozen models, for hot paths that copy trusted values. Pure."""

from __future__ import annotations

from typing import Any, TypeVar

import pydantic

M = TypeVar("M", bound=pydantic.BaseModel)
_set_attr = object.__setattr__
_new = object.__new__
_SLOTS = pydantic.BaseModel.__dict__
_set_fields_set = _SLOTS["__pydantic_fields_set__"].__set__
_set_extra = _SLOTS["__pydantic_extra__"].__set__
_set_private = _SLOTS["__pydantic_private__"].__set__
"""BaseModel's slots, set through their descriptors: a third cheaper than object.__setattr__
by name, which looks each one up in the class's MRO."""


def replaced(model: M, changes: dict[str, Any]) -> M:
    """A shallow copy of a frozen model with fields replaced, unvalidated: pydantic's
    model_copy(update=...) (which does not validate either) without its per-call copies of
    every slot. `changes` must hold values of the fields' own types: a store write, every
    status write of every task and the task controller's view of each task copy this way.
    The fields set are the model's plus the changed ones, as model_copy's."""
    new = _new(model.__class__)  # BaseModel has no __new__ of its own (nor do o2's models)
    values = model.__dict__.copy()
    fields_set = model.__pydantic_fields_set__  # shared when unchanged: never mutated in place
    if changes:
        values.update(changes)
        for name in changes:  # no temporary set: most copies change fields already set
            if name not in fields_set:
                fields_set = fields_set | changes.keys()
                break
    _set_attr(new, "__dict__", values)
    _set_fields_set(new, fields_set)
    extra, private = model.__pydantic_extra__, model.__pydantic_private__
    _set_extra(new, None if extra is None else dict(extra))
    _set_private(new, None if private is None else dict(private))
    return new
