"""The tasks table's rows computed from the stored JSON of a Task, without its model.

Building a Task model costs ~155 us (and the informer's cache of 50,000 of them ~500 MB); the
row needs a dozen fields. `task_row` reads them from the stored document, checked as the model
would check them, and equals `gui.feed.project_task` of the model for the same document (the
tests hold them equal). Anything it cannot read with certainty (a missing or mistyped field, a
value outside its enum, a legacy label key the model renames, a name unlike its key) goes the
model's way instead: decoded, projected, and None when the model cannot read it either (the
feed then keeps the row it had, as the informer keeps its last readable object). Fields the
row does not show are not checked: a document wrong only there is shown, where the model's
informer would have skipped it.
"""

from __future__ import annotations

import json
from typing import Any, get_args

from crds.errors import UnreadableObjectError
from crds.kinds.common import DesiredOccState, OccState
from crds.kinds.task import Task, TaskPhase
from crds.labels import LEGACY_KEYS
from gui.feed import Wire, project_task
from store import codec

PHASES = frozenset(get_args(TaskPhase))
STATES = frozenset(get_args(OccState))
DESIRED = frozenset(get_args(DesiredOccState))
_ABSENT = object()


class Unserved(Exception):
    """This document's row is not certain from its JSON: the model decides."""


def task_row(key: str, value: bytes, revision: int) -> Wire | None:
    """The row of the Task stored at `key` (None: unreadable, by the model too)."""
    try:
        return raw_row(json.loads(value), name=codec.name_from_key(key), revision=revision)
    except (ValueError, Unserved):
        pass
    try:
        task = codec.decode(Task, value, key=key, mod_revision=revision)
    except UnreadableObjectError:
        return None
    return project_task(task)


def raw_row(doc: Any, *, name: str, revision: int) -> Wire:
    """`project_task` from the stored JSON; Unserved where the model might read it otherwise."""
    meta, spec = _section(doc, "metadata"), _section(doc, "spec")
    status = _section(doc, "status", optional=True)
    if _get(meta, "name", str) != name or doc.get("kind", "Task") != "Task":
        raise Unserved("metadata.name")
    labels = _labels(meta.get("labels", {}))
    wire: Wire = {
        "name": name,
        "env": _get(spec, "environment", str, default=None) or "",
        "role": _get(spec, "role", str, default=""),
        "class": _get(spec, "taskClass", str),
        "desired": _enum(spec, "state", DESIRED, default="STANDBY"),
        "state": _enum(status, "state", STATES, default=None) or "",
        "phase": _enum(status, "phase", PHASES, default="Pending"),
        "node": _get(status, "hostname", str, default=None) or "",
        "pid": _get(status, "pid", int, default=None),
        "message": _get(status, "message", str, default=""),
        "labels": labels,
        "critical": _get(spec, "critical", bool, default=True),
        "rv": revision,
    }
    return {k: v for k, v in wire.items() if v not in (None, "", {})}


def _section(doc: Any, field: str, *, optional: bool = False) -> dict[str, Any]:
    if not isinstance(doc, dict):
        raise Unserved("(document)")
    value = doc.get(field, {} if optional else None)
    if not isinstance(value, dict):
        raise Unserved(field)
    return value


def _get(section: dict[str, Any], field: str, kind: type, *, default: Any = _ABSENT) -> Any:
    """The value of `field`, exactly of JSON type `kind` (a bool is never an int); `default`
    when absent or null (null only where the model's field may be None: default None)."""
    value = section.get(field, _ABSENT)
    if value is _ABSENT or (value is None and default is None):
        if default is _ABSENT:
            raise Unserved(field)
        return default
    if type(value) is not kind:
        raise Unserved(field)
    return value


def _enum(section: dict[str, Any], field: str, values: frozenset[str], *, default: Any) -> Any:
    value = _get(section, field, str, default=default)
    if value is not default and value not in values:
        raise Unserved(field)
    return value


def _labels(labels: Any) -> dict[str, str]:
    if not isinstance(labels, dict) or not LEGACY_KEYS.isdisjoint(labels):
        raise Unserved("metadata.labels")
    if not all(type(v) is str for v in labels.values()):
        raise Unserved("metadata.labels")
    return dict(labels)
