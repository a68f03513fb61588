"""Pure printers: resources in, rich renderables or plain text out. No I/O, no clock reads."""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from cli.tableout import NONE, column_widths, human_age, render_table
from crds.errors import FieldError, UnreadableObjectError
from crds.labels import APPLIED_PREFIX

if TYPE_CHECKING:  # rich is imported by what renders with it: tables to a pipe need none
    from rich.console import RenderableType
    from rich.table import Table
    from rich.text import Text

    from crds.meta import Condition
    from crds.resource import KindInfo, Resource

__all__ = ["NONE", "column_widths", "human_age", "render_table"]


def _cell(column_value: Any, obj: Resource) -> str:
    try:
        value = column_value(obj)
    except Exception:  # a printer column must never break a listing
        return "<error>"
    return NONE if value is None or value == "" else str(value)


def _has_name_column(info: KindInfo) -> bool:
    """Kinds that place NAME themselves (or hide it outside -o wide, like Event) keep that."""
    return any(c.header == "NAME" for c in info.columns)


def table_headers(info: KindInfo, *, wide: bool = False) -> list[str]:
    """NAME, the kind's printer columns (wide ones only with -o wide), then AGE."""
    headers = [c.header for c in info.columns if wide or not c.wide_only]
    if not _has_name_column(info):
        headers.insert(0, "NAME")
    if "AGE" not in headers:
        headers.append("AGE")
    return headers


def table_row(
    info: KindInfo, obj: Resource, *, now: datetime, wide: bool = False, qualify: bool = False
) -> list[str]:
    """One row of `o2 get`; `qualify` prints `kind/name` in the NAME column (for `get all`)."""
    name = f"{info.singular}/{obj.metadata.name}" if qualify else obj.metadata.name
    cells: list[str] = []
    headers = [c.header for c in info.columns if wide or not c.wide_only]
    if not _has_name_column(info):
        cells.append(name)
    for column in info.columns:
        if column.wide_only and not wide:
            continue
        cells.append(name if column.header == "NAME" else _cell(column.value, obj))
    if "AGE" not in headers:
        cells.append(human_age(obj.metadata.creation_timestamp, now=now))
    return cells


def resource_rows(
    info: KindInfo,
    objs: Sequence[Resource],
    *,
    now: datetime,
    wide: bool = False,
    qualify: bool = False,
) -> tuple[list[str], list[list[str]]]:
    """The headers and rows of `o2 get`'s table."""
    headers = table_headers(info, wide=wide)
    return headers, [table_row(info, o, now=now, wide=wide, qualify=qualify) for o in objs]


def resource_table(
    info: KindInfo,
    objs: Sequence[Resource],
    *,
    now: datetime,
    wide: bool = False,
    qualify: bool = False,
) -> Table:
    return render_table(*resource_rows(info, objs, now=now, wide=wide, qualify=qualify))


def object_names(info: KindInfo, objs: Sequence[Resource]) -> list[str]:
    """`-o name`: `environment/physics-1`, one per object."""
    return [f"{info.singular}/{o.metadata.name}" for o in objs]


def output_document(objs: Sequence[Resource], *, single: bool) -> dict[str, Any]:
    """`-o json|yaml`: the object itself when one was asked for by name, else a List."""
    from crds.meta import API_VERSION  # the models are built: the objects are theirs

    if single and len(objs) == 1:
        return objs[0].to_wire()
    return {"apiVersion": API_VERSION, "kind": "List", "items": [o.to_wire() for o in objs]}


def json_text(document: Mapping[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=False) + "\n"


def yaml_text(document: Mapping[str, Any]) -> str:
    import yaml  # only for -o yaml: tables and JSON need not load it

    return yaml.safe_dump(dict(document), sort_keys=False, default_flow_style=False)


def field_errors_text(errors: Sequence[FieldError]) -> Text:
    """Every validation problem, one per line: file: document N: kind/name: field: message."""
    from rich.text import Text

    text = Text()
    for err in errors:
        text.append("error: ", style="bold red")
        text.append(err.render())
        text.append("\n")
    return text


def unreadable_text(err: UnreadableObjectError) -> Text:
    from rich.text import Text

    text = Text()
    text.append("warning: ", style="bold yellow")
    text.append(f"unreadable object at {err.key}: {err.reason}")
    return text


# ---- describe ----------------------------------------------------------------------------


def _is_scalar(value: Any) -> bool:
    return not isinstance(value, dict | list)


def _scalar(value: Any) -> str:
    if value is None:
        return NONE
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def nested_lines(value: Any, *, indent: int = 0) -> list[str]:
    """kubectl describe's recursive `Key:  value` layout for a JSON value."""
    pad = "  " * indent
    lines: list[str] = []
    if isinstance(value, dict):
        if not value:
            return [f"{pad}{NONE}"]
        for key, item in value.items():
            if _is_scalar(item):
                lines.append(f"{pad}{key}:  {_scalar(item)}")
            elif not item:
                lines.append(f"{pad}{key}:  {NONE}")
            else:
                lines.append(f"{pad}{key}:")
                lines.extend(nested_lines(item, indent=indent + 1))
    elif isinstance(value, list):
        for item in value:
            if _is_scalar(item):
                lines.append(f"{pad}- {_scalar(item)}")
            else:
                sub = nested_lines(item, indent=indent + 1)
                first = sub[0].lstrip() if sub else NONE
                lines.append(f"{pad}- {first}")
                lines.extend(sub[1:])
    else:
        lines.append(f"{pad}{_scalar(value)}")
    return lines


LABEL_WIDTH = 19


def _field(title: str, value: object) -> str:
    return f"{title + ':':<{LABEL_WIDTH}}{value}"


def _mapping_lines(title: str, values: Mapping[str, str]) -> list[str]:
    if not values:
        return [_field(title, NONE)]
    items = [f"{k}={v}" for k, v in sorted(values.items())]
    return [_field(title, items[0]), *(" " * LABEL_WIDTH + i for i in items[1:])]


def metadata_lines(obj: Resource, *, now: datetime) -> list[str]:
    meta = obj.metadata
    lines = [
        _field("Name", meta.name),
        _field("Kind", obj.kind),
        _field("UID", meta.uid or NONE),
        _field("ResourceVersion", meta.resource_version or NONE),
        _field("Generation", meta.generation),
        _field("Created", _when(meta.creation_timestamp, now=now)),
    ]
    if meta.deletion_timestamp is not None:
        lines.append(_field("Deleting since", _when(meta.deletion_timestamp, now=now)))
    lines.append(_field("Finalizers", ", ".join(meta.finalizers) or NONE))
    owners = [f"{o.kind.lower()}/{o.name}" for o in meta.owner_references]
    lines.append(_field("Owners", ", ".join(owners) or NONE))
    lines += _mapping_lines("Labels", meta.labels)
    lines += _mapping_lines("Annotations", meta.annotations)
    return lines


def _when(ts: datetime | None, *, now: datetime) -> str:
    if ts is None:
        return NONE
    return f"{ts.isoformat()} ({human_age(ts, now=now)} ago)"


def conditions_table(conditions: Sequence[Condition], *, now: datetime) -> RenderableType:
    from rich.console import Group
    from rich.text import Text

    if not conditions:
        return Text(f"Conditions:  {NONE}")
    headers = ["TYPE", "STATUS", "REASON", "AGE", "MESSAGE"]
    rows = [
        [c.type, c.status, c.reason or "", human_age(c.last_transition_time, now=now), c.message]
        for c in conditions
    ]
    return Group(Text("Conditions:"), render_table(headers, rows))


def event_fields(event: Mapping[str, Any]) -> Mapping[str, Any]:
    """An Event's content: its spec (o2's wire form), or the document itself (flat form)."""
    spec = event.get("spec")
    return spec if isinstance(spec, dict) else event


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def event_row(event: Mapping[str, Any], *, now: datetime) -> list[str]:
    """TYPE REASON AGE FROM MESSAGE; repeats as `5m (x3 over 20m)` like kubectl describe."""
    fields = event_fields(event)
    first = parse_time(fields.get("firstTimestamp") or fields.get("firstTime"))
    last = parse_time(fields.get("lastTimestamp") or fields.get("lastTime")) or first
    count = fields.get("count") or 1
    age = human_age(last, now=now)
    if isinstance(count, int) and count > 1:
        age = f"{age} (x{count} over {human_age(first, now=now)})"
    source = fields.get("source") or fields.get("reportingController") or ""
    if isinstance(source, dict):
        source = source.get("component") or ""
    return [
        str(fields.get("type") or ""),
        str(fields.get("reason") or ""),
        age,
        str(source),
        str(fields.get("message") or ""),
    ]


def events_table(events: Sequence[Mapping[str, Any]], *, now: datetime) -> RenderableType:
    from rich.console import Group
    from rich.text import Text

    if not events:
        return Text(f"Events:  {NONE}")
    headers = ["TYPE", "REASON", "AGE", "FROM", "MESSAGE"]
    return Group(Text("Events:"), render_table(headers, [event_row(e, now=now) for e in events]))


def describe(
    obj: Resource, *, events: Sequence[Mapping[str, Any]], now: datetime
) -> RenderableType:
    """Metadata, Spec, Status (without conditions), the Conditions table, then Events last."""
    from rich.console import Group
    from rich.text import Text

    wire = obj.to_wire()
    status = dict(wire.get("status") or {})
    status.pop("conditions", None)
    parts: list[RenderableType] = [Text("\n".join(metadata_lines(obj, now=now)))]
    parts.append(Text("Spec:\n" + "\n".join(nested_lines(wire.get("spec") or {}, indent=1))))
    parts.append(Text("Status:\n" + "\n".join(nested_lines(status, indent=1))))
    parts.append(conditions_table(obj.status.conditions, now=now))
    parts.append(events_table(events, now=now))
    return Group(*parts)


def event_sort_key(event: Mapping[str, Any]) -> str:
    fields = event_fields(event)
    return str(fields.get("lastTimestamp") or fields.get("lastTime") or "")


def involves(event: Mapping[str, Any], obj: Resource) -> bool:
    """True when an Event's involvedObject is `obj` (kind and name; uid when both have one)."""
    return is_about(event, kind=obj.kind, name=obj.metadata.name, uid=obj.metadata.uid)


def is_about(event: Mapping[str, Any], *, kind: str, name: str, uid: str = "") -> bool:
    """True when an Event's involvedObject is kind/name (and has `uid`, when both have one)."""
    involved = event_fields(event).get("involvedObject")
    if not isinstance(involved, dict):
        return False
    if involved.get("kind") != kind or involved.get("name") != name:
        return False
    theirs = involved.get("uid")
    return not (theirs and uid and theirs != uid)


# ---- diff --------------------------------------------------------------------------------


def essence(obj: Resource) -> dict[str, Any]:
    """What `o2 apply` owns: labels, annotations and spec (never status or server fields)."""
    wire = obj.to_wire()
    meta = wire.get("metadata") or {}
    notes = meta.get("annotations") or {}
    return {
        "metadata": {
            "labels": meta.get("labels") or {},
            "annotations": {k: v for k, v in notes.items() if not k.startswith(APPLIED_PREFIX)},
        },
        "spec": wire.get("spec") or {},
    }


def essence_diff(live: Resource | None, desired: Resource) -> str:
    """`diff -u` of the YAML essence; empty when equal. A missing live object diffs from nothing."""
    ref = desired.ref
    before = yaml_text(essence(live)).splitlines(keepends=True) if live is not None else []
    after = yaml_text(essence(desired)).splitlines(keepends=True)
    return "".join(
        difflib.unified_diff(before, after, fromfile=f"live/{ref}", tofile=f"file/{ref}")
    )
