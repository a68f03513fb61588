"""What `o2 set var` and `o2 set detectors` do to an Environment's `spec.vars`. Pure.

The `detectors` variable is a JSON list in text (`["TPC","ITS"]`), as o2 and AliECS keep it;
a comma-separated list (`TPC,ITS`) is read too and written back as JSON.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from crds.errors import FieldError, ValidationError
from crds.newenv import DETECTORS_VARIABLE


def _usage(path: str, message: str) -> ValidationError:
    return ValidationError([FieldError(path=path, message=message)])


def parse_assignments(args: Sequence[str]) -> tuple[dict[str, str], list[str]]:
    """`key=value` to set and `key-` to remove; the value may hold `=` and be empty."""
    assign: dict[str, str] = {}
    remove: list[str] = []
    for arg in args:
        key, sep, value = arg.partition("=")
        if sep and key.strip():
            assign[key.strip()] = value
        elif not sep and arg.endswith("-") and len(arg) > 1:
            remove.append(arg[:-1])
        else:
            raise _usage("KEY=VALUE", f"{arg!r} is neither key=value (set) nor key- (remove)")
    both = sorted(set(assign) & set(remove))
    if both:
        raise _usage("KEY=VALUE", f"{', '.join(both)}: both set and removed")
    return assign, remove


def vars_after(current: Mapping[str, str], args: Sequence[str]) -> dict[str, str]:
    """`current` with the assignments of `args` applied (order of existing keys kept)."""
    assign, remove = parse_assignments(args)
    result = {k: v for k, v in current.items() if k not in remove}
    result.update(assign)
    return result


def read_detectors(value: str) -> list[str]:
    """The detectors of a `detectors` value: a JSON list, or comma-separated names."""
    text = value.strip()
    if not text:
        return []
    if "{{" in text or "{%" in text:
        raise _usage(
            f"spec.vars.{DETECTORS_VARIABLE}",
            f"{value!r} is a template: give the whole list (o2 set detectors ENV TPC ITS)",
        )
    if text.startswith(("[", "{")):
        try:
            items = json.loads(text)
        except ValueError as exc:
            raise _usage(f"spec.vars.{DETECTORS_VARIABLE}", f"{value!r} is not JSON") from exc
        if not isinstance(items, list):
            raise _usage(f"spec.vars.{DETECTORS_VARIABLE}", f"{value!r} is not a list")
        return [str(item) for item in items]
    return [name.strip() for name in text.split(",") if name.strip()]


@dataclass(frozen=True)
class DetectorEdit:
    """The parsed arguments: names to add and remove, or a whole new list."""

    add: tuple[str, ...] = ()
    remove: tuple[str, ...] = ()
    replace: tuple[str, ...] | None = None


def parse_detector_args(args: Sequence[str]) -> DetectorEdit:
    """`+X` adds, `-X` removes, bare names replace the list (not mixed with +/-)."""
    add = tuple(a[1:] for a in args if a.startswith("+") and len(a) > 1)
    remove = tuple(a[1:] for a in args if a.startswith("-") and len(a) > 1)
    bare = tuple(a for a in args if a[:1] not in ("+", "-"))
    if not args or any(len(a) <= 1 and a[:1] in ("+", "-") for a in args):
        raise _usage("DETECTORS", "give +NAME to add, -NAME to remove, or the names of the list")
    if bare and (add or remove):
        raise _usage(
            "DETECTORS", f"{' '.join(bare)}: bare names replace the list; not with +NAME/-NAME"
        )
    both = sorted(set(add) & set(remove))
    if both:
        raise _usage("DETECTORS", f"{', '.join(both)}: both added and removed")
    return DetectorEdit(add=add, remove=remove, replace=bare or None)


def detectors_after(current: list[str], edit: DetectorEdit) -> tuple[list[str], list[str]]:
    """The new list (existing order kept, additions appended, no duplicates) and the names
    asked to be removed that were not there (for a warning)."""
    if edit.replace is not None:
        return list(dict.fromkeys(edit.replace)), []
    absent = [name for name in edit.remove if name not in current]
    kept = [name for name in current if name not in edit.remove]
    return list(dict.fromkeys([*kept, *edit.add])), absent


def detectors_text(names: Sequence[str]) -> str:
    """The stored form: compact JSON, as `o2 create env --detectors` writes it."""
    return json.dumps(list(names), separators=(",", ":"))
