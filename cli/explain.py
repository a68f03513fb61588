"""`o2 explain`: walk a kind's generated JSON schema (crds/schemas, written by
`python -m crds.schemagen` from the models) along a field path and say what is there. Pure:
the schema document comes in, lines of text go out."""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from crds.errors import FieldError, ValidationError

Schema = Mapping[str, Any]


@dataclass(frozen=True)
class Node:
    """One field: its schema with `$ref`s and optional-`null`s resolved, and what to call it."""

    name: str
    schema: Schema
    type: str
    description: str
    required: bool = False
    ref: str = ""
    """The `$defs` name the field's object type comes from ("" for scalars and free maps)."""


class SchemaWalker:
    """Resolves `$ref` against the document's `$defs`; knows the fields under each node."""

    def __init__(self, document: Schema) -> None:
        self.document = document
        self.defs: Mapping[str, Schema] = document.get("$defs", {})

    def deref(self, schema: Schema) -> tuple[Schema, str]:
        ref = schema.get("$ref")
        if not isinstance(ref, str):
            return schema, ""
        name = ref.rsplit("/", 1)[-1]
        return self.defs[name], name

    def alternatives(self, schema: Schema) -> list[Schema]:
        options = schema.get("anyOf") or schema.get("oneOf")
        if not options:
            return [schema]
        return [o for o in options if o.get("type") != "null"]

    def inner(self, schema: Schema) -> tuple[Schema, str]:
        """The object schema a path continues into (through optional, array items and map
        values), with the `$defs` name it came from; ({}, "") when there is none (a scalar) or
        more than one (a union of objects)."""
        found: dict[str, tuple[Schema, str]] = {}
        for option in self.alternatives(schema):
            resolved, name = self.deref(option)
            items, value = resolved.get("items"), _map(resolved)
            if "properties" in resolved:
                found[name or str(id(resolved))] = (resolved, name)
            elif resolved.get("type") == "array" and isinstance(items, dict):
                deeper = self.inner(items)
                if deeper[0]:
                    found[deeper[1] or str(id(deeper[0]))] = deeper
            elif value is not None:
                deeper = self.inner(value)
                if deeper[0]:
                    found[deeper[1] or str(id(deeper[0]))] = deeper
        return next(iter(found.values())) if len(found) == 1 else ({}, "")

    def type_name(self, schema: Schema) -> str:
        """kubectl's `<type>`: string, integer, []Role, map[string]string, A | B."""
        names = [self._one_type(o) for o in self.alternatives(schema)]
        return " | ".join(dict.fromkeys(names)) or "any"

    def _one_type(self, schema: Schema) -> str:
        resolved, name = self.deref(schema)
        if name:
            return name
        kind = resolved.get("type")
        if kind == "array":
            items = resolved.get("items")
            return "[]" + (self.type_name(items) if isinstance(items, dict) else "any")
        value = _map(resolved)
        if value is not None:
            return "map[string]" + self.type_name(value)
        if "const" in resolved and not kind:
            return "string"
        if resolved.get("format") == "date-time":
            return "string (date-time)"
        if isinstance(kind, list):
            return " | ".join(str(k) for k in kind)
        return str(kind or "object")

    def fields(self, schema: Schema) -> list[Node]:
        """The fields under `schema` (after `inner`), in the schema's order."""
        holder, _ = self.inner(schema)
        required = set(holder.get("required", ()))
        return [self.node(n, s, required=n in required) for n, s in _properties(holder).items()]

    def node(self, name: str, schema: Schema, *, required: bool = False) -> Node:
        _, ref = self.inner(schema)
        return Node(
            name=name,
            schema=schema,
            type=self.type_name(schema),
            description=describe(schema, self.deref(schema)[0], self.defs.get(ref, {})),
            required=required,
            ref=ref,
        )

    def root(self) -> Node:
        title = str(self.document.get("title", ""))
        return Node(title, self.document, title, str(self.document.get("description", "")))


def _map(schema: Schema) -> Schema | None:
    value = schema.get("additionalProperties")
    if schema.get("type") == "object" and isinstance(value, dict) and "properties" not in schema:
        return value
    return None


def _properties(schema: Schema) -> Mapping[str, Schema]:
    props = schema.get("properties")
    return props if isinstance(props, dict) else {}


def describe(*schemas: Schema) -> str:
    """The first description found: the field's own, else its type's."""
    return next((str(s["description"]) for s in schemas if s.get("description")), "")


def _key(name: str) -> str:
    return name.replace("_", "").lower()


def walk(walker: SchemaWalker, *, kind: str, path: Sequence[str]) -> Node:
    """The node at `path` under the kind's root; an unknown field is a ValidationError that
    lists the fields valid at that level (and the closest, when one is close)."""
    node = walker.root()
    for depth, part in enumerate(path):
        children = walker.fields(node.schema) if depth else walker.fields(walker.document)
        match = next((c for c in children if c.name == part), None)
        match = match or next((c for c in children if _key(c.name) == _key(part)), None)
        if match is None:
            where = ".".join([kind.lower(), *path[: depth + 1]])
            raise ValidationError([FieldError(path=where, message=_unknown(part, children))])
        node = match
    return node


def _unknown(part: str, children: Sequence[Node]) -> str:
    names = [c.name for c in children]
    if not names:
        return f"field {part!r} does not exist: this field has no fields below it"
    close = difflib.get_close_matches(part, names, n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"field {part!r} does not exist{hint}; valid fields: {', '.join(names)}"


# ---- printing ----------------------------------------------------------------------------

INDENT = "     "


def enum_values(walker: SchemaWalker, schema: Schema) -> list[str]:
    """The values an enum (or a const) field accepts, through optional and `$ref`."""
    values: list[str] = []
    for option in walker.alternatives(schema):
        resolved, _ = walker.deref(option)
        values += [str(v) for v in resolved.get("enum", ())]
        if "const" in resolved:
            values.append(str(resolved["const"]))
    return list(dict.fromkeys(values))


def default_text(schema: Schema) -> str | None:
    """The default, as JSON would write it; None when there is none (or it is null)."""
    if "default" not in schema or schema["default"] is None:
        return None
    value = schema["default"]
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value) if value == "" else value
    return json.dumps(value)


def _facts(walker: SchemaWalker, schema: Schema, *, indent: str) -> list[str]:
    lines = []
    enum = enum_values(walker, schema)
    if enum:
        lines.append(f"{indent}Enum: {', '.join(enum)}")
    default = default_text(schema)
    if default is not None:
        lines.append(f"{indent}Default: {default}")
    return lines


def first_sentence(text: str) -> str:
    """The docs' first sentence, on one line (docstrings wrap mid-sentence)."""
    paragraph = " ".join(text.strip().split("\n\n", 1)[0].split())
    end = paragraph.find(". ")
    return paragraph if end < 0 else paragraph[: end + 1]


def _header(node: Node) -> str:
    return f"   {node.name}\t<{node.type}>{' -required-' if node.required else ''}"


def _field_entries(walker: SchemaWalker, children: Sequence[Node]) -> list[str]:
    lines: list[str] = []
    for child in children:
        first = first_sentence(child.description)
        lines += [_header(child), *([INDENT + first] if first else [])]
        lines += [*_facts(walker, child.schema, indent=INDENT), ""]
    return lines


def _tree(
    walker: SchemaWalker, children: Sequence[Node], *, depth: int, seen: tuple[str, ...]
) -> list[str]:
    lines: list[str] = []
    for child in children:
        pad = "   " * depth
        mark = " -required-" if child.required else ""
        if child.ref and child.ref in seen:
            lines.append(f"   {pad}{child.name}\t<{child.type}>{mark} (recursive: see above)")
            continue
        lines.append(f"   {pad}{child.name}\t<{child.type}>{mark}")
        below = walker.fields(child.schema)
        lines += _tree(walker, below, depth=depth + 1, seen=(*seen, child.ref))
    return lines


def explain_text(
    walker: SchemaWalker, *, kind: str, version: str, path: Sequence[str], recursive: bool
) -> str:
    """kubectl explain's layout: KIND, VERSION, FIELD and TYPE, DESCRIPTION, then FIELDS (each
    with its type, first line of docs, enum values and default), or their tree."""
    node = walk(walker, kind=kind, path=path)
    lines = [f"KIND:     {kind}", f"VERSION:  {version}", ""]
    if path:
        lines += [f"FIELD:    {'.'.join(path)}", f"TYPE:     {node.type}", ""]
    lines.append("DESCRIPTION:")
    text = node.description.strip() or "<empty>"
    lines += [INDENT + line if line else "" for line in text.splitlines()]
    lines += _facts(walker, node.schema, indent=INDENT) if path else []
    children = walker.fields(node.schema if path else walker.document)
    if children:
        lines += ["", "FIELDS:"]
        if recursive:
            lines += _tree(walker, children, depth=0, seen=(node.ref,))
        else:
            lines += _field_entries(walker, children)
    return "\n".join(lines).rstrip() + "\n"
