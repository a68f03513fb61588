"""Unvalidated copies of frozen models, for hot paths that copy trusted values. Pure."""

from __future__ import annotations

from typing import Any, TypeVar

import pydantic

M = TypeVar("M", bound=pydantic.BaseModel)
_set_attr = object.__setattr__


def replaced(model: M, changes: dict[str, Any]) -> M:
    """A shallow copy of a frozen model with fields replaced, unvalidated: pydantic's
    model_copy(update=...) (which does not validate either) without its per-call copies of
    every slot. `changes` must hold values of the fields' own types: a store write, every
    status write of every task and the task controller's view of each task copy this way."""
    new = model.__class__.__new__(model.__class__)
    values = model.__dict__.copy()
    values.update(changes)
    _set_attr(new, "__dict__", values)
    fields_set = model.__pydantic_fields_set__  # shared when unchanged: never mutated in place
    if not fields_set.issuperset(changes):
        fields_set = fields_set | changes.keys()
    _set_attr(new, "__pydantic_fields_set__", fields_set)
    extra, private = model.__pydantic_extra__, model.__pydantic_private__
    _set_attr(new, "__pydantic_extra__", None if extra is None else dict(extra))
    _set_attr(new, "__pydantic_private__", None if private is None else dict(private))
    return new
