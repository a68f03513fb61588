"""What `o2 label` and `o2 annotate` change: parse `k=v` / `k-` arguments, check them against
the key and value rules (crds.labels), and apply them to one mapping as kubectl does. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from crds.errors import FieldError, ValidationError
from crds.labels import canonical, key_problem, label_value_problem

Which = Literal["labels", "annotations"]


@dataclass(frozen=True)
class Changes:
    """Keys to set (with their values) and keys to remove, in the order given."""

    which: Which
    set: dict[str, str] = field(default_factory=dict)
    remove: tuple[str, ...] = ()


def _fail(which: Which, key: str, message: str) -> ValidationError:
    return ValidationError([FieldError(path=f"metadata.{which}.{key}", message=message)])


def _check(which: Which, key: str, value: str | None) -> None:
    problem = key_problem(key)
    if problem is None and value is not None and which == "labels":
        problem = label_value_problem(value)
    if problem is not None:
        raise _fail(which, key, problem)


def parse_changes(which: Which, args: Sequence[str]) -> Changes:
    """`k=v` sets, `k-` removes; every key and label value checked before anything is read.
    Deprecated o2 keys are written under their current name (crds.labels.LEGACY)."""
    sets: dict[str, str] = {}
    removes: list[str] = []
    for arg in args:
        if "=" in arg:
            key, _, value = arg.partition("=")
            _check(which, key, value)
            sets[canonical(key)] = value
        elif arg.endswith("-") and len(arg) > 1:
            key = arg[:-1]
            _check(which, key, None)
            removes.append(canonical(key))
        else:
            raise _fail(which, arg, f"{arg!r}: use KEY=VALUE to set, KEY- to remove")
    both = sorted(set(sets) & set(removes))
    if both:
        raise _fail(which, both[0], "both set and removed in the same command")
    if not sets and not removes:
        message = "nothing to change: give KEY=VALUE to set or KEY- to remove"
        raise ValidationError([FieldError(path=f"metadata.{which}", message=message)])
    return Changes(which=which, set=sets, remove=tuple(removes))


@dataclass(frozen=True)
class Outcome:
    """The mapping after the changes, and the keys asked to be removed that were not there."""

    values: dict[str, str]
    missing: tuple[str, ...]

    def changed(self, before: Mapping[str, str]) -> bool:
        return self.values != dict(before)


def apply_changes(current: Mapping[str, str], changes: Changes, *, overwrite: bool) -> Outcome:
    """The new mapping. Changing a key's value needs `overwrite` (kubectl's rule: setting the
    value it already has is fine); refused with the key, its value and the flag to use."""
    refused = [
        FieldError(
            path=f"metadata.{changes.which}.{key}",
            message=f"already has a value ({current[key]!r}); use --overwrite to change it",
        )
        for key, value in changes.set.items()
        if key in current and current[key] != value and not overwrite
    ]
    if refused:
        raise ValidationError(refused)
    values = {k: v for k, v in current.items() if k not in changes.remove}
    values.update(changes.set)
    missing = tuple(k for k in changes.remove if k not in current)
    return Outcome(values=values, missing=missing)
