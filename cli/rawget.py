"""`o2 get KIND [NAME...]` as a table or names, from the stored JSON documents, without the
models, asyncio or the gRPC client.

Building the pydantic models costs more than everything else `o2 get` does (~0.3 s of a
0.5 s command), and the table needs a few fields of each document. For the kinds listed in
`COLUMNS` (those people list most) and the outputs `table`, `wide` and `name`, the documents
are read through etcd's JSON gateway (cli.etcdgateway) and the cells computed from the JSON
exactly as the kind's printer columns compute them from the model. Anything this path cannot
print with certainty gives None and the command runs the full path, which prints it (or its
error): a document that is not plainly what o2 writes (a missing field, a wrong type, a value
outside its enum, an unknown top-level or metadata field, a name unlike its key), a missing
NAME, an unreachable etcd, a label selector, a password sent without TLS (the full path
warns). tests/cli/test_raw_get.py checks the bytes match the full path's for every kind and
output served here. Edge I/O.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from cli.etcdgateway import (
    GatewayError,
    KeyValue,
    read_ahead,
    read_pages,
    registry_range,
    uses_tls,
)
from cli.tableout import NONE, human_age, print_table, write_out

if TYPE_CHECKING:
    from cli.options import GlobalOptions

API_VERSION = "o2/v1alpha1"
"""crds.meta.API_VERSION (a test checks they agree)."""
READ_TIMEOUT = 1.0
"""Seconds the gateway may take before the full path (with its retries and errors) takes over."""
TOP_FIELDS = frozenset({"apiVersion", "kind", "metadata", "spec", "status"})
META_FIELDS = frozenset(
    {
        "name",
        "uid",
        "generation",
        "labels",
        "annotations",
        "finalizers",
        "ownerReferences",
        "creationTimestamp",
        "deletionTimestamp",
    }
)
"""The stored fields of crds.meta.ObjectMeta (resourceVersion is never stored)."""

OCC_STATES = ("STANDBY", "CONFIGURED", "RUNNING", "ERROR", "DONE")
DESIRED_OCC_STATES = ("STANDBY", "CONFIGURED", "RUNNING", "DONE")
ENV_STATES = ("STANDBY", "DEPLOYED", "CONFIGURED", "RUNNING", "ERROR", "DONE")
DESIRED_ENV_STATES = ("STANDBY", "DEPLOYED", "CONFIGURED", "RUNNING", "DONE")
TASK_PHASES = ("Pending", "Staging", "Running", "Finished", "Failed", "Killed", "Lost")
"""The Literal types of crds.kinds (a test checks they agree)."""


class Unserved(Exception):
    """This path cannot print the document exactly as the full path would."""


Doc = dict[str, Any]


def at(doc: Doc, *path: str, kind: type | tuple[type, ...] = str, optional: bool = False) -> Any:
    """The value at `path`, of JSON type `kind`; None when `optional` and absent (what the
    model's None default is stored as: nothing). A bool is never an int here."""
    value: Any = doc
    for step in path:
        if not isinstance(value, dict):
            raise Unserved(".".join(path))
        value = value.get(step)
    if value is None and optional:
        return None
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise Unserved(".".join(path))
    return value


def one_of(doc: Doc, *path: str, values: Sequence[str], optional: bool = False) -> str | None:
    value = at(doc, *path, optional=optional)
    if value is not None and value not in values:
        raise Unserved(".".join(path))
    return value  # type: ignore[no-any-return]


@dataclass(frozen=True)
class RawColumn:
    """A printer column (crds.resource.PrinterColumn) computed from the stored JSON."""

    header: str
    value: Callable[[Doc], object]
    wide_only: bool = False


def _opt(value: object) -> str:
    """crds.kinds.common.opt."""
    return "" if value is None else str(value)


def _env_tasks(doc: Doc) -> str:
    state = one_of(doc, "status", "state", values=ENV_STATES)
    counts = at(doc, "status", "taskCounts", kind=dict)
    total = at(doc, "status", "taskTotal", kind=int)
    wanted = {"STANDBY": "STANDBY", "DEPLOYED": "STANDBY"}.get(str(state), str(state))
    done = counts.get(wanted, 0)
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in counts.values()):
        raise Unserved("status.taskCounts")
    return f"{done}/{total}"


def _env_transition(doc: Doc) -> str:
    transition = at(doc, "status", "transition", kind=dict, optional=True)
    return "" if transition is None else str(at(transition, "event"))


def _task_ports(doc: Doc) -> str:
    ports = at(doc, "status", "ports", kind=list)
    if not all(isinstance(p, int) and not isinstance(p, bool) for p in ports):
        raise Unserved("status.ports")
    return ",".join(str(p) for p in ports)


def _name(doc: Doc) -> str:
    return str(doc["metadata"]["name"])


@dataclass(frozen=True)
class RawKind:
    kind: str
    singular: str
    columns: tuple[RawColumn, ...]


COLUMNS: dict[str, RawKind] = {
    "environments": RawKind(
        "Environment",
        "environment",
        (
            RawColumn("NAME", _name),
            RawColumn("WORKFLOW", lambda d: at(d, "spec", "workflow")),
            RawColumn("STATE", lambda d: one_of(d, "status", "state", values=ENV_STATES)),
            RawColumn("DESIRED", lambda d: one_of(d, "spec", "state", values=DESIRED_ENV_STATES)),
            RawColumn("RUN", lambda d: _opt(at(d, "status", "runNumber", kind=int, optional=True))),
            RawColumn("TASKS", _env_tasks),
            RawColumn("RUN-TYPE", lambda d: at(d, "spec", "runType"), wide_only=True),
            RawColumn("TRANSITION", _env_transition, wide_only=True),
            RawColumn("MESSAGE", lambda d: at(d, "status", "message"), wide_only=True),
        ),
    ),
    "tasks": RawKind(
        "Task",
        "task",
        (
            RawColumn("NAME", _name),
            RawColumn("ENV", lambda d: _opt(at(d, "spec", "environment", optional=True))),
            RawColumn("ROLE", lambda d: at(d, "spec", "role")),
            RawColumn(
                "STATE",
                lambda d: _opt(one_of(d, "status", "state", values=OCC_STATES, optional=True)),
            ),
            RawColumn("PHASE", lambda d: one_of(d, "status", "phase", values=TASK_PHASES)),
            RawColumn("NODE", lambda d: _opt(at(d, "status", "hostname", optional=True))),
            RawColumn("PID", lambda d: _opt(at(d, "status", "pid", kind=int, optional=True))),
            RawColumn(
                "DESIRED",
                lambda d: one_of(d, "spec", "state", values=DESIRED_OCC_STATES),
                wide_only=True,
            ),
            RawColumn("CLASS", lambda d: at(d, "spec", "taskClass"), wide_only=True),
            RawColumn("PORTS", _task_ports, wide_only=True),
            RawColumn("MESSAGE", lambda d: at(d, "status", "message"), wide_only=True),
        ),
    ),
}
"""The kinds this path serves, each column as crds.kinds.<kind> declares it (a test checks
the headers agree); cells are str(value), `<none>` for None or empty, as cli.printers does."""

OUTPUTS = ("table", "wide", "name")


def checked(doc: object, *, kind: str, name: str) -> Doc:
    """`doc` if it is plainly a stored `kind` named `name`, else Unserved (the full path then
    reports it as unreadable, as it does every document its model refuses)."""
    if not isinstance(doc, dict) or not TOP_FIELDS.issuperset(doc):
        raise Unserved("document")
    if doc.get("apiVersion") != API_VERSION or doc.get("kind") != kind:
        raise Unserved("apiVersion/kind")
    meta = at(doc, "metadata", kind=dict)
    if not META_FIELDS.issuperset(meta) or at(meta, "name") != name:
        raise Unserved("metadata")
    for field in ("labels", "annotations"):
        values = at(meta, field, kind=dict)
        if not all(isinstance(v, str) for v in values.values()):
            raise Unserved(f"metadata.{field}")
    return doc


def created(doc: Doc) -> datetime | None:
    text = at(doc, "metadata", "creationTimestamp", optional=True)
    if text is None:
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError as exc:
        raise Unserved("metadata.creationTimestamp") from exc
    if when.tzinfo is None:
        raise Unserved("metadata.creationTimestamp")
    return when


def row(raw: RawKind, doc: Doc, *, now: datetime, wide: bool) -> list[str]:
    """cli.printers.table_row for a stored document."""
    cells: list[str] = []
    for column in raw.columns:
        if column.wide_only and not wide:
            continue
        value = column.value(doc)
        cells.append(NONE if value is None or value == "" else str(value))
    cells.append(human_age(created(doc), now=now))
    return cells


def stored_pages(opts: GlobalOptions, plural: str, kind: str) -> Iterator[list[Stored]]:
    """Every object of the kind as (name, document, mod revision), a gateway page at a time
    (cli.etcdgateway.read_pages): a caller that keeps only what it prints holds one page of
    documents at once, not all of them (50,000 Tasks decoded: ~1 GB)."""
    base = registry_range(opts, plural)
    for page in read_ahead(read_pages(opts, base, timeout=READ_TIMEOUT)):
        yield [_decoded(kv, base=base, kind=kind) for kv in page]


Stored = tuple[str, Doc, int]


def _decoded(kv: KeyValue, *, base: str, kind: str) -> Stored:
    name = kv.key[len(base) :]
    if "/" in name:
        raise Unserved(kv.key)
    try:
        doc = json.loads(kv.value)
    except ValueError as exc:
        raise Unserved(kv.key) from exc
    return name, checked(doc, kind=kind, name=name), kv.mod_revision


def read_stored(opts: GlobalOptions, plural: str, kind: str) -> dict[str, tuple[Doc, int]]:
    """Every object of the kind by name, with its mod revision (its resourceVersion)."""
    pages = stored_pages(opts, plural, kind)
    return {name: (doc, revision) for page in pages for name, doc, revision in page}


def plaintext_password(opts: GlobalOptions) -> bool:
    """True when the full path warns that the password crosses the network readable
    (store.config.plaintext_credentials_warning): it prints that warning, not this path."""
    if not (opts.user and opts.password):
        return False
    return not all(uses_tls(e if "://" in e else f"http://{e}", opts) for e in opts.endpoints)


def raw_get(opts: GlobalOptions, *, plural: str, names: Sequence[str], output: str) -> bool:
    """Print `o2 get` as the full path would and return True, or print nothing and return
    False when this path cannot (see the module docstring). Every document is read and
    vouched for before anything is printed; only the printed lines are kept."""
    raw = COLUMNS.get(plural)
    if raw is None or output not in OUTPUTS or plaintext_password(opts):
        return False
    wide, now = output == "wide", datetime.now(UTC)
    line: Callable[[Doc], list[str]] = (
        (lambda d: [f"{raw.singular}/{_name(d)}\n"])
        if output == "name"
        else (lambda d: row(raw, d, now=now, wide=wide))
    )
    try:
        lines = printed_lines(opts, plural, raw, names=names, line=line)
    except (Unserved, GatewayError):
        return False
    if lines is None:
        return False
    if not lines:
        sys.stderr.write("No resources found.\n")
    elif output == "name":
        write_out("".join(cell for cells in lines for cell in cells))
    else:
        headers = [c.header for c in raw.columns if wide or not c.wide_only] + ["AGE"]
        print_table(headers, lines)
    return True


def printed_lines(
    opts: GlobalOptions,
    plural: str,
    raw: RawKind,
    *,
    names: Sequence[str],
    line: Callable[[Doc], list[str]],
) -> list[list[str]] | None:
    """`line` of each object listed: the named ones in the order named, else all by name;
    None when a named one is missing (the full path reports it)."""
    wanted = set(names)
    listed: dict[str, list[str]] = {}
    for page in stored_pages(opts, plural, raw.kind):
        for name, doc, _ in page:
            if not wanted or name in wanted:
                listed[name] = line(doc)
    if any(name not in listed for name in names):
        return None
    return [listed[n] for n in names] if names else [listed[n] for n in sorted(listed)]
