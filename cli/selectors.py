"""Label selectors (`-l k=v,k2=v2`) and kind-name resolution for the CLI. Pure; imports no
model until a kind is resolved, so shell completion of KIND stays cheap."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from crds.errors import FieldError, NotFoundError, ValidationError
from crds.kindnames import kind_spellings
from crds.labels import canonical, legacy_keys

if TYPE_CHECKING:
    from crds.resource import KindInfo

ALL = "all"

# `o2 get all` lists the kinds people operate on (Events are noise there, as in kubectl).
ALL_EXCLUDES = frozenset({"Event"})


def parse_selector(text: str | None) -> dict[str, str]:
    """`a=b,c=d` (also `a==b`) into a mapping; every term must match (ANDed)."""
    if not text:
        return {}
    labels: dict[str, str] = {}
    for term in (t.strip() for t in text.split(",")):
        if not term:
            continue
        key, sep, value = term.replace("==", "=").partition("=")
        if not sep or not key.strip():
            raise ValidationError(
                [FieldError(path="-l", message=f"{term!r} is not key=value (e.g. -l app=tpc)")]
            )
        labels[key.strip()] = value.strip()
    return labels


def modern_selector(selector: Mapping[str, str]) -> tuple[dict[str, str], str | None]:
    """The selector with deprecated o2 keys renamed (crds.labels.LEGACY), and a one-line
    deprecation warning when it named any (None otherwise)."""
    old = legacy_keys(selector)
    if not old:
        return dict(selector), None
    modern: dict[str, str] = {}
    for key, value in selector.items():
        new = canonical(key)
        if modern.get(new, value) != value:
            message = f"{key!r} is the old name of {new!r}: both given, with different values"
            raise ValidationError([FieldError(path="-l", message=message)])
        modern[new] = value
    renames = ", ".join(f"{key} -> {canonical(key)}" for key in old)
    return modern, f"warning: deprecated label key (still matched, not for long): {renames}"


def matches(labels: Mapping[str, str], selector: Mapping[str, str]) -> bool:
    return all(labels.get(canonical(k)) == v for k, v in selector.items())


def resolve_kinds(name: str) -> list[KindInfo]:
    """`all`, or one kind by kind/plural/singular/short name (`env`, `envs`, `tc`, ...)."""
    from crds.resource import all_kinds, kind_info  # builds models: not for completion

    if name.strip().lower() == ALL:
        return [k for k in all_kinds() if k.kind not in ALL_EXCLUDES]
    return [kind_info(name)]


def kind_names() -> list[str]:
    """Every spelling accepted for KIND, for shell completion."""
    return sorted({ALL, *kind_spellings()})


def complete_kind(incomplete: str) -> list[str]:
    try:
        return [n for n in kind_names() if n.startswith(incomplete.lower())]
    except (ImportError, NotFoundError):
        return []
