"""The file `o2 edit` opens: the object as YAML under a comment header, read back into the
object to write. Pure, but for `editor_argv` reading the environment it is given."""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from cli.modify import STATUS_REFUSED, with_writable
from cli.printers import yaml_text
from crds.errors import FieldError, ValidationError
from crds.resource import Resource

R = TypeVar("R", bound=Resource)

EDITOR_VARIABLES = ("O2_EDITOR", "EDITOR")
DEFAULT_EDITOR = "vi"

HEADER = (
    "# Please edit the object below. Lines beginning with a '#' will be ignored,\n"
    "# and an empty file will abort the edit. If an error occurs while saving this file will be\n"
    "# reopened with the relevant failures. Only spec, labels and annotations are written.\n"
    "#\n"
)


def editor_argv(environ: Mapping[str, str], path: str) -> list[str]:
    """`$O2_EDITOR`, else `$EDITOR`, else vi, split as a shell would (`code --wait`), then the
    file."""
    command = next((environ[v] for v in EDITOR_VARIABLES if environ.get(v, "").strip()), "")
    return [*shlex.split(command or DEFAULT_EDITOR), path]


def editable_document(obj: Resource) -> dict[str, Any]:
    """What the file shows: kind, name, labels, annotations, resourceVersion and spec (status
    and the store's own metadata are left out, as kubectl leaves out managed fields)."""
    wire = obj.to_wire()
    meta = wire.get("metadata") or {}
    shown = {"name": meta.get("name")}
    shown.update({k: meta[k] for k in ("labels", "annotations") if meta.get(k)})
    shown["resourceVersion"] = meta.get("resourceVersion")
    return {
        "apiVersion": wire["apiVersion"],
        "kind": wire["kind"],
        "metadata": shown,
        "spec": wire.get("spec") or {},
    }


def editable_text(obj: Resource) -> str:
    return yaml_text(editable_document(obj))


def with_comments(text: str, comments: Sequence[str]) -> str:
    """The file: the header, then `comments` as `# ` lines, then `text`."""
    lines = "".join(f"# {line}".rstrip() + "\n" for c in comments for line in c.splitlines())
    return HEADER + (lines + "#\n" if lines else "") + text


def strip_comments(text: str) -> str:
    """`text` without its `#` lines (as kubectl compares and parses an edited file)."""
    kept = [line for line in text.splitlines(keepends=True) if not line.lstrip().startswith("#")]
    return "".join(kept)


def is_blank(text: str) -> bool:
    return not strip_comments(text).strip()


_RESOURCE_VERSION = re.compile(r"^(\s+resourceVersion:[ \t]*)\d+[ \t]*$", re.MULTILINE)


def with_resource_version(text: str, resource_version: int | None) -> str:
    """`text` showing `resource_version` (after a conflict, the version the next save is
    compared against)."""
    if resource_version is None:
        return text
    return _RESOURCE_VERSION.sub(rf"\g<1>{resource_version}", text, count=1)


def from_edited(current: R, text: str, *, source: str) -> R:
    """`current` with the spec, labels and annotations of the edited file; ValidationError with
    every problem (file, field path) when the file is not a valid object of that kind and name,
    or sets status."""
    from crds.manifest import parse_documents

    objs = parse_documents(text, source=source)

    def problem(path: str, message: str) -> ValidationError:
        error = FieldError(
            path=path, message=message, source=source, kind=current.kind, name=current.name
        )
        return ValidationError([error])

    if len(objs) != 1:
        raise problem("", f"the file holds {len(objs)} objects; keep exactly {current.ref}")
    edited = objs[0]
    if edited.kind != current.kind:
        raise problem("kind", f"{edited.kind}: the kind cannot be changed; keep {current.kind}")
    if edited.name != current.name:
        message = f"{edited.name}: renaming is not possible; keep {current.name}"
        raise problem("metadata.name", message)
    default = type(current).model_fields["status"].get_default(call_default_factory=True)
    if edited.status != default:
        raise problem("status", STATUS_REFUSED + "; remove status from the file")
    return with_writable(
        current,
        spec=edited.spec_applied_onto(current),
        labels=edited.metadata.labels,
        annotations=edited.metadata.annotations,
    )
