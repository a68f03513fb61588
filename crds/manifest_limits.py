"""Bounds on manifest text, checked on libyaml's event stream before any document is built. Pure.

A YAML alias (`*name`) makes one value stand for another, so a few hundred bytes can stand for
billions of values (the "billion laughs" alias bomb): nothing is copied while the YAML is
loaded, but validation and JSON encoding walk every copy. o2 manifests therefore refuse aliases
outright; the other bounds keep the memory and time one file can cost proportional to a small
multiple of its size. The check reads events and keeps none, so its own memory stays flat.

The same bounds hold for `o2 apply`/`diff`/`delete -f` and for GitSource syncs: both parse
through crds.manifest, and both readers refuse an oversize file before reading it.
"""

from __future__ import annotations

import yaml

from crds.errors import FieldError

MAX_FILE_BYTES = 4 * 1024 * 1024
"""One manifest file (the largest sample is about 12 KiB)."""
MAX_DOCUMENT_BYTES = 1024 * 1024
"""One YAML document (`---` to `---`), counted in characters of text."""
MAX_DOCUMENTS = 1000
"""YAML documents in one file."""
MAX_DEPTH = 64
"""Nested mappings and lists in one document (the deepest sample workflow needs about 12)."""
MAX_NODES = 100_000
"""Values (scalars, mappings, lists) in one document: bounds the memory of building it."""

_PARSER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_OPEN = (yaml.MappingStartEvent, yaml.SequenceStartEvent)
_CLOSE = (yaml.MappingEndEvent, yaml.SequenceEndEvent)


def oversize_file(size: int, *, source: str) -> FieldError | None:
    """An error when a file of `size` bytes is over MAX_FILE_BYTES (checked before reading)."""
    if size <= MAX_FILE_BYTES:
        return None
    return FieldError(
        path="",
        source=source,
        message=(
            f"file is larger than {_mib(MAX_FILE_BYTES)}, the limit for one o2 manifest file: "
            "split it into several files"
        ),
    )


def check_yaml(text: str, *, source: str, what: str = "o2 manifests") -> FieldError | None:
    """The first bound `text` breaks, naming its document and line, or None. `what` the text
    is, for messages (ComponentConfig payloads are held to the same bounds).

    Syntax errors are left to the loader, which reports them with their position.
    """
    too_big = oversize_file(len(text), source=source)
    if too_big is not None:
        return too_big
    scan = _Scan(source, what)
    try:
        for event in yaml.parse(text, Loader=_PARSER):
            problem = scan.see(event)
            if problem is not None:
                return problem
    except yaml.YAMLError:
        return None
    return None


class _Scan:
    """Counters for the document being read."""

    def __init__(self, source: str, what: str) -> None:
        self.source = source
        self.what = what
        self.document = 0
        self.start = 0
        self.depth = 0
        self.nodes = 0

    def see(self, event: yaml.Event) -> FieldError | None:
        if type(event) is yaml.ScalarEvent:
            self.nodes += 1  # the common case, kept short: this runs once per value
            return None if self.nodes <= MAX_NODES else self._error(self._too_many(event))
        line = _line(event)
        if isinstance(event, yaml.DocumentStartEvent):
            self.document += 1
            self.start, self.depth, self.nodes = _start(event), 0, 0
            if self.document > MAX_DOCUMENTS:
                return self._error(
                    f"more than {MAX_DOCUMENTS} YAML documents in one file (line {line}): split it"
                )
            return None
        if isinstance(event, yaml.AliasEvent):
            return self._error(
                f"YAML aliases are not allowed in {self.what} (found *{event.anchor} at line "
                f"{line}): write the value out in full"
            )
        if isinstance(event, yaml.NodeEvent):
            self.nodes += 1
            if self.nodes > MAX_NODES:
                return self._error(self._too_many(event))
        if isinstance(event, _OPEN):
            self.depth += 1
            if self.depth > MAX_DEPTH:
                return self._error(f"nested more than {MAX_DEPTH} levels deep (line {line})")
        elif isinstance(event, _CLOSE):
            self.depth -= 1
        elif isinstance(event, yaml.DocumentEndEvent):
            size = _end(event) - self.start
            if size > MAX_DOCUMENT_BYTES:
                return self._error(
                    f"document is {_mib(size)}; o2 manifests are limited to "
                    f"{_mib(MAX_DOCUMENT_BYTES)} per document: split it"
                )
        return None

    @staticmethod
    def _too_many(event: yaml.Event) -> str:
        return f"more than {MAX_NODES:,} values in one document (line {_line(event)})"

    def _error(self, message: str) -> FieldError:
        return FieldError(path="", message=message, source=self.source, document=self.document)


def _line(event: yaml.Event) -> int:
    return 0 if event.start_mark is None else event.start_mark.line + 1


def _start(event: yaml.Event) -> int:
    return 0 if event.start_mark is None else event.start_mark.index


def _end(event: yaml.Event) -> int:
    return 0 if event.end_mark is None else event.end_mark.index


def _mib(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MiB"
