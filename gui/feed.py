"""The GUI's live feed: wire projections, snapshot and coalesced deltas, SSE frames. Pure.

The server feeds every informer change into `Feed.apply`; a flusher calls `Feed.flush` every
~50 ms and broadcasts the one delta it returns to every browser. Clients only ever see the
*flushed* state: `snapshot()` is the state as of the last flush, so a browser that subscribes
right after a snapshot and applies the following deltas is exactly in step. Repeated changes
of one object inside a flush window collapse into its last value; an object created and
deleted inside one window never reaches the browser.

Wire format (one SSE event each, `id:` is the sequence number):
- `snapshot`: {"seq", "revision", "synced", "objects": {plural: [wire, ...]}}
- `delta`: {"seq", "revision", "changes": [{"op": "put", "kind": plural, "obj": wire} |
  {"op": "del", "kind": plural, "name": name}]}
Tasks travel as a compact projection (`project_task`); the other kinds as their wire JSON.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from crds.kinds.environment import Environment
from crds.kinds.event import Event
from crds.kinds.gitsource import GitSource
from crds.kinds.node import Node
from crds.kinds.task import Task
from crds.resource import Resource

Wire = dict[str, Any]
Projector = Callable[[Any], Wire]


def project_task(task: Task) -> Wire:
    """What the tasks table and role tree need, without the command and properties."""
    st, sp, meta = task.status, task.spec, task.metadata
    wire: Wire = {
        "name": meta.name,
        "env": sp.environment or "",
        "role": sp.role,
        "class": sp.task_class,
        "desired": sp.state,
        "state": st.state or "",
        "phase": st.phase,
        "node": st.hostname or "",
        "pid": st.pid,
        "message": st.message,
        "labels": dict(meta.labels),
        "critical": sp.critical,
        "rv": meta.resource_version,
    }
    return {k: v for k, v in wire.items() if v not in (None, "", {})}


def project_gitsource(source: GitSource) -> Wire:
    """Wire JSON without the (possibly long) inventory and last diff: counts stand in."""
    wire = source.to_wire()
    status = wire.get("status", {})
    status["inventoryCount"] = len(source.status.inventory)
    status["driftCount"] = len(source.status.drift)
    for bulky in ("inventory", "lastDiff", "pending"):
        status.pop(bulky, None)
    return wire


def project_wire(obj: Resource) -> Wire:
    return obj.to_wire()


@dataclass(frozen=True)
class KindFeed:
    """One kind the GUI follows: the model, its plural (the feed key) and its projection."""

    model: type[Resource]
    plural: str
    project: Projector


KINDS: tuple[KindFeed, ...] = (
    KindFeed(Environment, "environments", project_wire),
    KindFeed(Task, "tasks", project_task),
    KindFeed(Node, "nodes", project_wire),
    KindFeed(GitSource, "gitsources", project_gitsource),
    KindFeed(Event, "events", project_wire),
)


class Feed:
    """Flushed state per kind plus the changes pending since the last flush."""

    def __init__(self, plurals: tuple[str, ...] = ()) -> None:
        plurals = plurals or tuple(kind.plural for kind in KINDS)
        self.seq = 0
        self.revision = 0
        self.synced = False
        self._objects: dict[str, dict[str, Wire]] = {p: {} for p in plurals}
        self._pending: dict[tuple[str, str], Wire | None] = {}
        self._pending_revision = 0

    def apply(self, plural: str, name: str, wire: Wire | None, *, revision: int = 0) -> None:
        """Record the newest value of one object (`None`: deleted); cheap, called per change."""
        if plural not in self._objects:
            raise KeyError(f"feed does not follow {plural!r}")
        self._pending[(plural, name)] = wire
        self._pending_revision = max(self._pending_revision, revision)

    @property
    def pending(self) -> int:
        return len(self._pending)

    def count(self, plural: str) -> int:
        return len(self._objects[plural])

    def flush(self, *, revision: int = 0, limit: int = 0) -> Wire | None:
        """Fold pending changes into the flushed state; the delta message, or None if empty.

        `limit` > 0: at most that many changes (the oldest), the rest stay pending for the next
        flush (one message of 50,000 changes is ~14 MB of JSON encoded in one piece); the
        revision moves on only with the last of them."""
        if limit and len(self._pending) > limit:
            keys = list(itertools.islice(self._pending, limit))
            pending = {key: self._pending.pop(key) for key in keys}
            new_revision = self.revision
        else:
            pending, self._pending = self._pending, {}
            new_revision = max(self.revision, self._pending_revision, revision)
            self._pending_revision = 0
        changes = [
            c for (plural, name), wire in pending.items() if (c := self._fold(plural, name, wire))
        ]
        if not changes:
            self.revision = new_revision
            return None
        self.seq += 1
        self.revision = new_revision
        return {"seq": self.seq, "revision": self.revision, "changes": changes}

    def _fold(self, plural: str, name: str, wire: Wire | None) -> Wire | None:
        objects = self._objects[plural]
        if wire is None:
            if objects.pop(name, None) is None:
                return None
            return {"op": "del", "kind": plural, "name": name}
        if objects.get(name) == wire:
            return None
        objects[name] = wire
        return {"op": "put", "kind": plural, "obj": wire}

    def snapshot(self) -> Wire:
        """The flushed state: what a new browser starts from before the next delta."""
        return {
            "seq": self.seq,
            "revision": self.revision,
            "synced": self.synced,
            "objects": {plural: list(objs.values()) for plural, objs in self._objects.items()},
        }

    def state(self) -> Mapping[str, Mapping[str, Wire]]:
        """Read-only view of the flushed state (for tests and the server's info page)."""
        return self._objects


def wire_name(wire: Wire) -> str:
    """The object name of a wire document or a compact projection."""
    name = wire["name"] if "name" in wire else wire["metadata"]["name"]
    return str(name)


def apply_message(state: dict[str, dict[str, Wire]], event: str, message: Wire) -> None:
    """What a browser does with one message (the reference client, used by tests)."""
    if event == "snapshot":
        state.clear()
        for plural, items in message["objects"].items():
            state[plural] = {wire_name(item): item for item in items}
        return
    for change in message["changes"]:
        objs = state.setdefault(change["kind"], {})
        if change["op"] == "put":
            objs[wire_name(change["obj"])] = change["obj"]
        else:
            objs.pop(change["name"], None)


def sse_frame(event: str, message: Wire) -> bytes:
    """One Server-Sent Event carrying `message` as single-line JSON, with its seq as id."""
    data = _dumps(message)
    return f"id: {message['seq']}\nevent: {event}\ndata: {data}\n\n".encode()


def sse_pieces(event: str, message: Wire, *, rows: int = 500) -> Iterator[bytes]:
    """`sse_frame(event, message)` in pieces, each list under `message["objects"]` (its last
    key) encoded `rows` items at a time: a caller can give the loop a turn between pieces
    (50,000 tasks are ~14 MB of JSON, ~0.3 s to encode in one piece)."""
    objects: Mapping[str, list[Wire]] = message["objects"]
    if list(message)[-1] != "objects":
        raise ValueError("objects must be the message's last key")
    head = _dumps({k: v for k, v in message.items() if k != "objects"})[:-1]
    head += "," if len(head) > 1 else ""
    yield f'id: {message["seq"]}\nevent: {event}\ndata: {head}"objects":{{'.encode()
    for i, (plural, items) in enumerate(objects.items()):
        yield f"{',' if i else ''}{_dumps(plural)}:[".encode()
        for start in range(0, len(items), rows):
            text = _dumps(items[start : start + rows])[1:-1]
            yield f"{',' if start else ''}{text}".encode()
        yield b"]"
    yield b"}}\n\n"


def _dumps(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), default=str)


SSE_RETRY = b"retry: 1000\n\n"
"""Sent first on every stream: a browser reconnects 1 s after losing the server (not ~3 s)."""

SSE_PING = b": ping\n\n"
"""A comment line: keeps proxies and the browser's connection alive; ignored by EventSource."""
