"""AliECS constructs shared by workflows and task templates: variables (with `!public`
declarations), constraints and channels. Pure: node trees in, o2 wire dicts out.

Variables follow AliECS's core/workflow/rolebase.go and core/repos/repoutils.go: a scalar is
kept as its text; a mapping tagged `!public` gives its `value` as the variable's value and the
rest (type, label, description, widget, panel, values, index, rows, visibleif, enabledif) as the
variable's declaration; one name declared public twice in a file is an error. AliECS silently
drops other lists and mappings: o2 drops them too (the repository loads as AliECS loads it)
but reports each as a warning naming its line, since a value that vanishes is rarely meant.
"""

from __future__ import annotations

from typing import TypeAlias

import yaml

from crds.aliecs.nodes import PUBLIC_TAG, Reader, entries, items, number, scalar

Wire: TypeAlias = dict[str, object]
"""An o2 object or field in wire form (camelCase keys), validated later by its model."""

PUBLIC_FIELDS = (
    "value",
    "type",
    "label",
    "description",
    "widget",
    "panel",
    "values",
    "index",
    "rows",
    "visibleif",
    "enabledif",
)
_TEXT_FIELDS = ("label", "description", "widget", "panel", "visibleif", "enabledif")
_TYPES = {"string": "string", "number": "number", "bool": "bool", "list": "list", "map": "map"}
_CHANNEL = ("name", "type", "sndBufSize", "rcvBufSize", "rateLogging", "transport", "target")
_CHANNEL_TEMPLATES = ("sndBufSize", "rcvBufSize", "rateLogging", "target")
_BIND = (*_CHANNEL, "global", "addressing")


def variables(
    reader: Reader,
    node: yaml.Node,
    *,
    where: str,
    wire: str,
    public: dict[str, Wire] | None,
) -> dict[str, str]:
    """`defaults` or `vars`: name -> value. With `public` (workflows), `!public` entries add
    their declaration to it; without (task templates, which AliECS reads as plain text maps),
    a `!public` entry is an error."""
    found = entries(reader, node, where)
    if found is None:
        return {}
    out: dict[str, str] = {}
    for name, (key, value) in found.items():
        here = f"{where}.{name}"
        reader.mark(f"{wire}.{name}", key, here)
        if isinstance(value, yaml.MappingNode) and value.tag == PUBLIC_TAG and public is not None:
            declared = _public(reader, value, where=here, name=name, public=public)
            if declared is not None:
                out[name] = declared
            continue
        if not isinstance(value, yaml.ScalarNode):
            reader.warn(value, here, _dropped(value, public=public is not None))
            continue
        text = reader.template(value, here)
        if text is not None:
            out[name] = text
    return out


def _dropped(node: yaml.Node, *, public: bool) -> str:
    """AliECS keeps only text values and `!public` mappings; it drops the rest silently."""
    shape = "mapping" if isinstance(node, yaml.MappingNode) else "list"
    hint = " (a `!public` tag missing?)" if public and shape == "mapping" else ""
    return (
        f"this {shape} is not a value: AliECS ignores it and so does o2{hint}; "
        "quote a list or map as JSON text to make it one"
    )


def _public(
    reader: Reader, node: yaml.Node, *, where: str, name: str, public: dict[str, Wire]
) -> str | None:
    """A `!public` variable: its value, and its declaration added to `public`."""
    fields = entries(reader, node, where, allowed=PUBLIC_FIELDS)
    if fields is None:
        return None
    if name in public:
        reader.fail(node, where, f"public variable {name!r} is declared twice in this file")
        return None
    spec: Wire = {}
    for key in _TEXT_FIELDS:
        if key in fields:
            spec[key] = scalar(reader, fields[key][1], f"{where}.{key}") or ""
    if "type" in fields:
        kind = (scalar(reader, fields["type"][1], f"{where}.type") or "").strip()
        if kind and kind not in _TYPES:
            reader.fail(fields["type"][1], f"{where}.type", _type_help(kind))
        spec["type"] = _TYPES.get(kind, "string")
    if "values" in fields:
        values = items(reader, fields["values"][1], f"{where}.values")
        spec["values"] = [scalar(reader, v, f"{where}.values") or "" for v in values]
    for key in ("index", "rows"):
        if key in fields:
            spec[key] = _whole(reader, fields[key][1], f"{where}.{key}", signed=key == "index")
    public[name] = spec
    if "value" not in fields:
        return ""
    return reader.template(fields["value"][1], f"{where}.value")


def _type_help(kind: str) -> str:
    return f"type {kind!r} is not one of {', '.join(_TYPES)}"


def _whole(reader: Reader, node: yaml.Node, where: str, *, signed: bool) -> int:
    """`index` is an int32 in AliECS (negative ones sort first), `rows` a uint32."""
    value = number(reader, node, where)
    if value is None:
        return 0
    if not value.is_integer() or (value < 0 and not signed):
        least = "" if signed else " >= 0"
        reader.fail(node, where, f"must be a whole number{least}, not {value:g}")
        return 0
    return int(value)


def text_map(reader: Reader, node: yaml.Node, *, where: str, wire: str) -> dict[str, str]:
    """A plain name -> templated text map (task `properties`)."""
    return variables(reader, node, where=where, wire=wire, public=None)


def constraints(reader: Reader, node: yaml.Node, *, where: str, wire: str) -> list[Wire]:
    """AliECS constraints: attribute EQUALS value (the only operator AliECS has)."""
    out: list[Wire] = []
    for index, item in enumerate(items(reader, node, where)):
        here, wired = f"{where}[{index}]", f"{wire}[{index}]"
        found = entries(reader, item, here, allowed=("attribute", "value"))
        if found is None:
            continue
        reader.mark(wired, item, here)
        rule: Wire = {}
        if "attribute" in found:
            rule["attribute"] = scalar(reader, found["attribute"][1], f"{here}.attribute")
        if "value" in found:
            rule["value"] = reader.template(found["value"][1], f"{here}.value")
        out.append(rule)
    return out


def channels(
    reader: Reader, node: yaml.Node, *, where: str, wire: str, inbound: bool, keep_target: bool
) -> list[Wire]:
    """`bind` (inbound) or `connect` (outbound) channels. AliECS ignores the target of a task
    template's outbound channel (targets belong to the workflow): `keep_target` False drops it."""
    allowed = _BIND if inbound else _CHANNEL
    out: list[Wire] = []
    for index, item in enumerate(items(reader, node, where)):
        here, wired = f"{where}[{index}]", f"{wire}[{index}]"
        found = entries(reader, item, here, allowed=allowed)
        if found is None:
            continue
        reader.mark(wired, item, here)
        channel: Wire = {}
        for key, (key_node, value) in found.items():
            if key == "target" and not keep_target:
                continue
            reader.mark(f"{wired}.{key}", key_node, f"{here}.{key}")
            templated = key in _CHANNEL_TEMPLATES or key == "global"
            text = (
                reader.template(value, f"{here}.{key}")
                if templated
                else scalar(reader, value, f"{here}.{key}")
            )
            if text is not None and (text or key not in _CHANNEL_TEMPLATES):
                channel[key] = text.strip() if key == "target" else text
        out.append(channel)
    return out
