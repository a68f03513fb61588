""" "Did you mean" hints for unknown fields: walk a model along an error path. Pure."""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Sequence

from pydantic import BaseModel


def wire_names(model: type[BaseModel]) -> tuple[str, ...]:
    """The field names of `model` as they appear on the wire (aliases)."""
    return tuple(field.alias or name for name, field in model.model_fields.items())


def model_at(model: type[BaseModel], loc: Sequence[str | int]) -> type[BaseModel] | None:
    """The model that holds the last element of `loc`, or None when the path leaves models."""
    current: type[BaseModel] | None = model
    for part in loc[:-1]:
        if current is None:
            return None
        if isinstance(part, int):
            continue
        field = next((f for n, f in current.model_fields.items() if (f.alias or n) == part), None)
        if field is None:
            return None
        current = _inner_model(field.annotation)
    return current


def did_you_mean(model: type[BaseModel], loc: Sequence[str | int]) -> str:
    """` (did you mean 'x'?)` for an unknown field at `loc`, or "" when nothing is close."""
    if not loc or not isinstance(loc[-1], str):
        return ""
    holder = model_at(model, loc)
    if holder is None:
        return ""
    close = difflib.get_close_matches(loc[-1], wire_names(holder), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _inner_model(annotation: object) -> type[BaseModel] | None:
    """The model inside `X`, `X | None`, `tuple[X, ...]`; None for dicts and scalars."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin is dict:
        return None
    if origin in (tuple, list, typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            found = _inner_model(arg)
            if found is not None:
                return found
    return None
