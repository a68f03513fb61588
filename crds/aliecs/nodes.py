"""Reading AliECS YAML as nodes that keep their line numbers. Pure: takes file texts.

AliECS (Go, yaml.v3) reads every value as the scalar's text as written: `rate: 10` is "10",
`on: true` is "true". Composing the YAML into nodes (never constructing Python values) keeps
that text, the `!public` tags, and the line of every key, so each error can name
`file:line` and the AliECS construct (`roles[3].task.load`). A `Reader` collects the errors of
one file and remembers, for every o2 field it emits, where it came from (`spots`), so errors
found later by o2's own validation point back into the AliECS file too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import yaml

from crds.errors import FieldError
from crds.manifest_limits import check_yaml

_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
PUBLIC_TAG = "!public"
_NULL = "tag:yaml.org,2002:null"
_TRUE = frozenset({"true", "yes", "on"})
_FALSE = frozenset({"false", "no", "off"})


@dataclass(frozen=True)
class Spot:
    """Where an emitted o2 field came from: its line and its AliECS path."""

    line: int
    where: str


@dataclass
class Reader:
    """The errors and field origins of one AliECS file."""

    source: str
    """The file's path inside the repository (`workflows/readout-dataflow.yaml`)."""
    expr: Callable[[str], str]
    """The `{{ }}` translator (crds.aliecs.dialect.to_o2)."""
    errors: list[FieldError] = field(default_factory=list)
    warnings: list[FieldError] = field(default_factory=list)
    """What AliECS accepts and o2 follows, but which is likely a mistake (a value AliECS
    drops): reported, never fatal."""
    spots: dict[str, Spot] = field(default_factory=dict)

    def fail(self, node: yaml.Node | None, where: str, message: str) -> None:
        """Record an error at `node`'s line (1-based) and AliECS path `where`."""
        line = node.start_mark.line + 1 if node is not None else 1
        self.errors.append(FieldError(path=where, message=message, source=f"{self.source}:{line}"))

    def warn(self, node: yaml.Node, where: str, message: str) -> None:
        """Record a warning at `node`'s line and AliECS path `where`."""
        line = node.start_mark.line + 1
        self.warnings.append(
            FieldError(path=where, message=message, source=f"{self.source}:{line}")
        )

    def mark(self, wire: str, node: yaml.Node, where: str) -> None:
        """Remember that o2 field `wire` (`spec.roles[0].task.class`) comes from `node`."""
        self.spots[wire] = Spot(node.start_mark.line + 1, where)

    def template(self, node: yaml.Node, where: str) -> str | None:
        """A value AliECS templates: its text, `{{ }}` parts translated to o2's dialect."""
        raw = scalar(self, node, where)
        if raw is None:
            return None
        try:
            return self.expr(raw)
        except ValueError as exc:
            self.fail(node, where, f"{exc} (in {raw!r})")
            return None

    def located(self, error: FieldError) -> FieldError:
        """An o2 validation error (wire path) moved to the AliECS line and construct it came
        from: the longest emitted field that is a prefix of the error's path."""
        best = ""
        for wire in self.spots:
            if len(wire) > len(best) and _is_prefix(wire, error.path):
                best = wire
        if not best:
            return FieldError(path=error.path, message=error.message, source=self.source)
        spot = self.spots[best]
        rest = error.path[len(best) :]
        return FieldError(
            path=spot.where + rest, message=error.message, source=f"{self.source}:{spot.line}"
        )


def _is_prefix(wire: str, path: str) -> bool:
    return path == wire or path.startswith((wire + ".", wire + "["))


def compose(reader: Reader, text: str) -> yaml.Node | None:
    """The file's single document as a node tree, bounded as o2 manifests are."""
    bound = check_yaml(text, source=reader.source, what="AliECS templates")
    if bound is not None:
        reader.errors.append(bound)
        return None
    try:
        nodes = list(yaml.compose_all(text, Loader=_LOADER))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        reason = getattr(exc, "problem", None) or str(exc)
        reader.errors.append(
            FieldError(path="", message=f"not YAML: {reason}", source=f"{reader.source}:{line}")
        )
        return None
    docs = [n for n in nodes if n is not None]
    if len(docs) != 1:
        reader.errors.append(
            FieldError(
                path="",
                message=f"holds {len(docs)} YAML documents; an AliECS template is exactly one",
                source=reader.source,
            )
        )
        return None
    return docs[0]


def entries(
    reader: Reader, node: yaml.Node, where: str, *, allowed: tuple[str, ...] = ()
) -> dict[str, tuple[yaml.Node, yaml.Node]] | None:
    """A mapping's keys -> (key node, value node); duplicate and (with `allowed`) unknown keys
    are errors, since AliECS would silently drop or overwrite them."""
    if not isinstance(node, yaml.MappingNode):
        reader.fail(node, where, f"must be a mapping, not {_shape(node)}")
        return None
    out: dict[str, tuple[yaml.Node, yaml.Node]] = {}
    for key_node, value in node.value:
        key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
        here = f"{where}.{key}" if where else str(key)
        if key is None:
            reader.fail(key_node, where, "keys must be text")
        elif key in out:
            reader.fail(key_node, here, "defined twice in this mapping")
        elif allowed and key not in allowed:
            reader.fail(key_node, here, f"unknown field (known here: {', '.join(allowed)})")
        else:
            out[key] = (key_node, value)
    return out


def items(reader: Reader, node: yaml.Node, where: str) -> list[yaml.Node]:
    """A sequence's items (an error and none when it is something else)."""
    if isinstance(node, yaml.ScalarNode) and node.tag == _NULL:
        return []
    if not isinstance(node, yaml.SequenceNode):
        reader.fail(node, where, f"must be a list, not {_shape(node)}")
        return []
    return list(node.value)


def scalar(reader: Reader, node: yaml.Node, where: str) -> str | None:
    """A scalar's text as written (what AliECS reads), "" for null; None (and an error) for a
    list or mapping."""
    if not isinstance(node, yaml.ScalarNode):
        reader.fail(node, where, f"must be a single value, not {_shape(node)}")
        return None
    return "" if node.tag == _NULL else str(node.value)


def flag(reader: Reader, node: yaml.Node, where: str) -> bool | None:
    """A YAML boolean (true/false, yes/no, on/off), as yaml.v3 decodes into a Go bool."""
    text = scalar(reader, node, where)
    if text is None:
        return None
    lowered = text.strip().lower()
    if lowered in _TRUE or lowered in _FALSE:
        return lowered in _TRUE
    reader.fail(node, where, f"must be true or false, not {text!r}")
    return None


def number(reader: Reader, node: yaml.Node, where: str) -> float | None:
    """A number written as text or as a YAML number (AliECS parses it with ParseFloat)."""
    text = scalar(reader, node, where)
    if text is None:
        return None
    try:
        return float(text.strip())
    except ValueError:
        reader.fail(node, where, f"must be a number, not {text!r}")
        return None


def _shape(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    return f"the value {node.value!r}"
