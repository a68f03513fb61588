"""Field ownership for apply: each applier owns the fields its manifests name; other writers'
fields stay. Pure (no I/O); store.apply and the GitSource controller use it.

An apply used to replace the whole spec, labels and annotations: re-applying an unchanged
manifest undid what `o2 stop`, `o2 recover`, `o2 label` or the GUI had written. Now each
applier (a *manager*: `o2-apply`, or `gitsource.<name>`) records in one annotation
(`applied.o2.dev/<manager>`) which fields its last apply set, with a short hash of each value,
and an apply merges three ways, as kubectl's apply does:

- a field the manifest names is set to the manifest's value;
- a field the previous apply named and this manifest no longer does is removed (back to the
  kind's default), unless another writer changed it since (then it is theirs and stays);
- every other field stays as it is.

A *conflict* is a field the manifest names with a value other than the live one, where the live
value was written by someone else: it differs from what this manager applied last, or this
manager never named the field and the live value is not the kind's default (map entries such as
`spec.vars.<key>` count as written). Conflicts are reported (`ConflictPolicy` "error"), taken
over ("force", kubectl's `--force-conflicts`), or left to their writer ("keep": the rest of the
manifest is applied). Objects without the annotation (applied before ownership existed, or made
by `o2 create`) have no previous apply: the manifest's fields are set without conflicts, nothing
is removed.

Granularity: nested objects and maps field by field, lists whole. Lists such as a Workflow's
roles are one field: the annotation stays small for the largest workflows.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel
from pydantic_core import to_jsonable_python

from crds.labels import APPLIED_PREFIX

ConflictPolicy = Literal["error", "force", "keep"]
Path = tuple[str, ...]
MISSING: Any = object()


def manager_key(manager: str) -> str:
    """The annotation that records what `manager` applied last."""
    return f"{APPLIED_PREFIX}{manager}"


@dataclass(frozen=True)
class Merged:
    """The document an apply writes, the applied-fields record to store with it, and the
    fields left to other writers (conflicts, under the "keep" policy or reported)."""

    doc: dict[str, Any]
    record: str
    conflicts: tuple[str, ...] = ()


def fingerprint(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def leaves(doc: Mapping[str, Any], base: Path = ()) -> Iterator[tuple[Path, Any]]:
    """(path, value) of every leaf: maps are walked into, anything else (lists too) is a leaf;
    an empty map names nothing."""
    for key, value in doc.items():
        path = (*base, key)
        if isinstance(value, Mapping):
            yield from leaves(value, path)
        else:
            yield path, value


def record_of(named: Mapping[str, Any]) -> str:
    """The annotation value: the named fields' paths with the hash of each value."""
    tree: dict[str, Any] = {}
    for path, value in leaves(named):
        node = tree
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = fingerprint(value)
    return json.dumps(tree, sort_keys=True, separators=(",", ":"))


def read_record(text: str | None) -> dict[Path, str] | None:
    """The paths and hashes a previous apply recorded (None: no previous apply, or a record
    that does not parse, which counts as none)."""
    if not text:
        return None
    try:
        tree = json.loads(text)
    except ValueError:
        return None
    if not isinstance(tree, dict):
        return None
    return {path: str(value) for path, value in leaves(tree)}


def model_defaults(model: type[BaseModel], base: Path = ()) -> dict[Path, Any]:
    """The default of every field of `model` that has one, by wire path (aliases), nested
    models walked into: what a field holds when nobody wrote it."""
    out: dict[Path, Any] = {}
    for name, info in model.model_fields.items():
        path = (*base, info.alias or name)
        nested = info.annotation
        if isinstance(nested, type) and issubclass(nested, BaseModel):
            out.update(model_defaults(nested, path))
        if info.is_required():
            continue
        value = to_jsonable_python(info.get_default(call_default_factory=True), by_alias=True)
        if isinstance(value, Mapping) and value:
            out.update({(*path, *p): v for p, v in leaves(value)})
        else:
            out[path] = value
    return out


def merge(
    live: Mapping[str, Any],
    named: Mapping[str, Any],
    defaults: Mapping[Path, Any],
    previous: dict[Path, str] | None,
    policy: ConflictPolicy,
) -> Merged:
    """Three-way merge of `named` (what the manifest sets) onto `live`; `defaults` holds the
    kind's defaults by path (model_defaults: a default value counts as nobody's).
    Under the "error" policy the caller refuses the apply when `conflicts` is not empty."""
    doc = json.loads(json.dumps(live))
    mine = dict(leaves(named))
    conflicts: list[str] = []
    left: set[Path] = set()
    for path, value in mine.items():
        current = get_path(doc, path)
        if current == value:
            continue
        if policy != "force" and _written_by_others(path, current, defaults, previous):
            conflicts.append(".".join(path))
            if policy == "keep":
                left.add(path)
                continue
        _set(doc, path, value)
    for path, digest in (previous or {}).items():
        if path in mine:
            continue
        current = get_path(doc, path)
        if current is not MISSING and fingerprint(current) == digest:
            _delete(doc, path)  # ours, unchanged since: the manifest dropped it
    applied = _tree({p: v for p, v in mine.items() if p not in left})
    return Merged(doc=doc, record=record_of(applied), conflicts=tuple(conflicts))


def _written_by_others(
    path: Path, current: Any, defaults: Mapping[Path, Any], previous: dict[Path, str] | None
) -> bool:
    if previous is None or current is MISSING:
        return False
    if path in previous:
        return fingerprint(current) != previous[path]
    return bool(current != defaults.get(path, MISSING))


def _tree(flat: Mapping[Path, Any]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for path, value in flat.items():
        node = tree
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = value
    return tree


def get_path(doc: Mapping[str, Any], path: Path) -> Any:
    node: Any = doc
    for key in path:
        if not isinstance(node, Mapping) or key not in node:
            return MISSING
        node = node[key]
    return node


def _set(doc: dict[str, Any], path: Path, value: Any) -> None:
    node = doc
    for key in path[:-1]:
        child = node.get(key)
        if not isinstance(child, dict):
            child = node[key] = {}
        node = child
    node[path[-1]] = value


def _delete(doc: dict[str, Any], path: Path) -> None:
    node: Any = doc
    for key in path[:-1]:
        node = node.get(key)
        if not isinstance(node, dict):
            return
    node.pop(path[-1], None)
