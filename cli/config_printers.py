"""`o2 config` views: ComponentConfigs in, tables and payload text out. Pure: no store, no clock.

`show` and `diff` text comes from the same resolution and rendering code as the controllers
(crds.configresolve, crds.configpayload), so what is printed is what a task would receive.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from datetime import datetime

from rich.console import RenderableType

from cli.printers import human_age, render_table
from crds.conditions import get_condition
from crds.configpayload import check_format, render
from crds.configresolve import (
    current_version,
    format_ref,
    is_recorded,
    payload_at,
    render_config,
    version_ref,
)
from crds.errors import ConfigError
from crds.kinds.componentconfig import ComponentConfig


def _ready(cc: ComponentConfig) -> str:
    cond = get_condition(cc.status.conditions, "Ready")
    return "Unknown" if cond is None else cond.status


def slot_order(cc: ComponentConfig) -> tuple[str, str, str, str, str]:
    """Listings group a component's entries, then run types and roles, whatever the names."""
    s = cc.spec
    return s.component, s.entry, s.run_type, s.role, cc.metadata.name


def slot_summary(cc: ComponentConfig) -> str:
    s = cc.spec
    return f"{s.component}/{s.run_type}/{s.role}/{s.entry}, {s.format}"


def configs_table(configs: Sequence[ComponentConfig]) -> RenderableType:
    headers = ["NAME", "COMPONENT", "RUN-TYPE", "ROLE", "ENTRY", "FORMAT", "VERSION", "READY"]
    # VERSION: the recorded version tasks receive; '+' when a newer payload is not recorded yet
    rows = [
        [
            cc.metadata.name,
            cc.spec.component,
            cc.spec.run_type,
            cc.spec.role,
            cc.spec.entry,
            cc.spec.format,
            str(cc.status.version) + ("" if is_recorded(cc) else "+"),
            _ready(cc),
        ]
        for cc in sorted(configs, key=slot_order)
    ]
    return render_table(headers, rows)


def history_table(
    cc: ComponentConfig, *, now: datetime, used_by: Mapping[int, Sequence[str]] | None = None
) -> RenderableType:
    """One row per kept version, oldest first; '*' marks the one tasks receive; USED-BY names
    the environments whose tasks were configured with it (status.configVersions)."""
    users = used_by or {}
    rows = [
        [
            f"{v.version}{' *' if v.version == cc.status.version else ''}",
            human_age(v.changed_at, now=now) if v.changed_at else "",
            str(v.generation),
            str(len(v.data.splitlines())),
            str(len(v.data)),
            ",".join(sorted(users.get(v.version, ()))),
        ]
        for v in cc.status.history
    ]
    if not is_recorded(cc):
        data = cc.spec.data
        rows.append(
            [
                f"{current_version(cc)}",
                "(not-recorded-yet)",
                str(cc.metadata.generation),
                str(len(data.splitlines())),
                str(len(data)),
                "",
            ]
        )
    headers = ["VERSION", "CHANGED", "GENERATION", "LINES", "BYTES", "USED-BY"]
    return render_table(headers, rows)


def history_header(cc: ComponentConfig) -> str:
    return f"# componentconfig/{version_ref(cc)} ({slot_summary(cc)})"


# ---- show ------------------------------------------------------------------------------------


def shown_version(cc: ComponentConfig) -> int:
    """What `show` prints by default: the version tasks receive (the stored payload when the
    controller has recorded none yet)."""
    return cc.status.version if cc.status.history else current_version(cc)


def unrecorded_note(cc: ComponentConfig) -> str:
    if is_recorded(cc):
        return ""
    if cc.status.history:
        return (
            f"; spec holds a newer payload, version {current_version(cc)} once the controller "
            "records it: tasks receive this one until then"
        )
    return "; not recorded yet: tasks receive it once the controller records it"


def _shown_ref(cc: ComponentConfig, version: int) -> str:
    return f"componentconfig/{format_ref(cc.metadata.name, version)}"


def kept_payload(cc: ComponentConfig, version: int) -> str:
    """The payload of a kept `version`; an older one dropped from history is an error."""
    try:
        return payload_at(cc, version)
    except KeyError as exc:
        raise ConfigError(version_ref(cc), f"version {version} is not kept") from exc


def show_header(cc: ComponentConfig, *, version: int, asked: bool) -> str:
    """Which config `show` chose (stderr); the recorded-or-not note only for the default
    version, since an asked-for version is exactly what was asked for."""
    note = "" if asked else unrecorded_note(cc)
    return f"# {_shown_ref(cc, version)} ({slot_summary(cc)}){note}"


def rendered_payload(
    cc: ComponentConfig, data: str, *, version: int, variables: Mapping[str, object]
) -> str:
    """`data` (the payload of `version`) with its placeholders evaluated as for a task."""
    if cc.status.history and version == cc.status.version:
        return render_config(cc, variables)  # the very function tasks get theirs from
    ref = _shown_ref(cc, version)
    text = render(data, variables, config=ref)
    check_format(cc.spec.format, text, config=ref)
    return text


# ---- diff ------------------------------------------------------------------------------------


def diff_text(cc: ComponentConfig, *, old: int, new: int) -> str:
    """A unified diff between two kept versions (KeyError when one is no longer kept)."""
    before = payload_at(cc, old).splitlines(keepends=True)
    after = payload_at(cc, new).splitlines(keepends=True)
    name = cc.metadata.name
    lines = difflib.unified_diff(
        before, after, fromfile=format_ref(name, old), tofile=format_ref(name, new)
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def versions_diff(cc: ComponentConfig, *, old: int | None, new: int | None) -> str:
    """`diff`'s text: `new` defaults to the current version, `old` to the one before it; a
    version no longer kept is an error listing those that are."""
    to = current_version(cc) if new is None else new
    since = to - 1 if old is None else old
    if since < 1:
        raise ConfigError(
            f"componentconfig/{version_ref(cc)}", "only one version so far: nothing to diff"
        )
    try:
        return diff_text(cc, old=since, new=to)
    except KeyError as exc:
        kept = ", ".join(str(v.version) for v in cc.status.history) or "none"
        raise ConfigError(
            f"componentconfig/{cc.metadata.name}",
            f"version {exc.args[0]} is not kept (kept: {kept})",
        ) from exc
