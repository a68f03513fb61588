"""The tasks table's rows computed from the stored JSON of a Task, without its model.

Building a Task model costs ~155 us (and the informer's cache of 50,000 of them ~500 MB); the
row needs a dozen fields. `task_row` validates only those (a TypedDict of them, in strict mode:
pydantic-core parses the document and skips the rest) and equals `gui.feed.project_task` of the
model for the same document (the tests hold them equal). Anything strict mode refuses (a
missing or mistyped field, a value outside its enum, a number sent as a string that the model's
lax mode would take) goes the model's way instead: decoded, projected, and None when the model
cannot read it either (the feed then keeps the row it had, as the informer keeps its last
readable object). Not checked: the fields the row does not show, and the DNS form of the names
it shows (o2 writes only valid ones): a document wrong only there is shown, where the model's
informer would have skipped it.
"""

from __future__ import annotations

from typing import Literal, NotRequired

import pydantic
from typing_extensions import TypedDict

from crds.errors import UnreadableObjectError
from crds.kinds.common import DesiredOccState, OccState
from crds.kinds.task import Task, TaskPhase
from crds.labels import renamed
from gui.feed import Wire, project_task
from store import codec

_IGNORE_REST = pydantic.ConfigDict(extra="ignore", strict=True)


@pydantic.with_config(_IGNORE_REST)
class _Meta(TypedDict):
    name: str
    labels: NotRequired[dict[str, str]]


@pydantic.with_config(_IGNORE_REST)
class _Spec(TypedDict):
    environment: NotRequired[str | None]
    role: NotRequired[str]
    taskClass: str
    state: NotRequired[DesiredOccState]
    critical: NotRequired[bool]


@pydantic.with_config(_IGNORE_REST)
class _Status(TypedDict):
    state: NotRequired[OccState | None]
    phase: NotRequired[TaskPhase]
    hostname: NotRequired[str | None]
    pid: NotRequired[int | None]
    message: NotRequired[str]


@pydantic.with_config(_IGNORE_REST)
class _Doc(TypedDict):
    kind: NotRequired[Literal["Task"]]
    metadata: _Meta
    spec: _Spec
    status: NotRequired[_Status]


_ROW_FIELDS = pydantic.TypeAdapter(_Doc)


def task_row(key: str, value: bytes, revision: int) -> Wire | None:
    """The row of the Task stored at `key` (None: unreadable, by the model too)."""
    name = codec.name_from_key(key)
    try:
        return raw_row(_ROW_FIELDS.validate_json(value), name=name, revision=revision)
    except (pydantic.ValidationError, ValueError):
        pass
    try:
        task = codec.decode(Task, value, key=key, mod_revision=revision)
    except UnreadableObjectError:
        return None
    return project_task(task)


def raw_row(doc: _Doc, *, name: str, revision: int) -> Wire:
    """`project_task` from the validated fields (its keys, in its order, empty ones left out);
    ValueError when the name is not the key's."""
    meta, spec, status = doc["metadata"], doc["spec"], doc.get("status") or _Status()
    if meta["name"] != name:
        raise ValueError("metadata.name is not the key's name")
    labels = meta.get("labels")
    pid = status.get("pid")
    wire: Wire = {"name": name}
    _put(wire, "env", spec.get("environment"))
    _put(wire, "role", spec.get("role"))
    _put(wire, "class", spec["taskClass"])
    wire["desired"] = spec.get("state", "STANDBY")
    _put(wire, "state", status.get("state"))
    wire["phase"] = status.get("phase", "Pending")
    _put(wire, "node", status.get("hostname"))
    if pid is not None:
        wire["pid"] = pid
    _put(wire, "message", status.get("message"))
    if labels:
        wire["labels"] = renamed(labels) or labels
    wire["critical"] = spec.get("critical", True)
    wire["rv"] = revision
    return wire


def _put(wire: Wire, key: str, text: str | None) -> None:
    if text:
        wire[key] = text
