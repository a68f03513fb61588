"""An AliECS repository's files to o2 Workflows and TaskClasses. Pure: takes file texts.

The one translator behind GitSource `format: aliecs` and `o2 convert aliecs`:
`workflows/<name>.yaml` becomes Workflow `<name>`, `tasks/<name>.yaml` TaskClass `<name>`
(directly under the repository path; `jit/` files are not objects: includes read them when an
environment is expanded). Everything is checked before anything is returned: one
ValidationError lists every problem of every file, each as `file:line: construct: problem`
(`workflows/x.yaml:120: roles[3].task.load: ...`), including those o2's own validation finds.

Names: o2 object names are DNS-1123 labels. An AliECS name that is not one (upper case, '_',
'.') is lower-cased with other characters turned into '-' (crds.names.to_dns_label), and static
`load:` / `include:` references are mapped the same way; two files of one kind whose names map
to the same o2 name are refused. Every object records its AliECS name
(`o2.dev/aliecs-name`) and its file in the repository (`o2.dev/aliecs-source`); a GitSource adds
the commit (`o2.dev/commit`) as for o2 manifests.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Protocol

import yaml

from crds.aliecs.dialect import to_o2
from crds.aliecs.fields import Wire, variables
from crds.aliecs.nodes import PUBLIC_TAG, Reader, compose, entries, scalar
from crds.aliecs.roles import Roles
from crds.aliecs.tasks import task_spec
from crds.errors import FieldError, ValidationError
from crds.labels import ALIECS_NAME, ALIECS_SOURCE
from crds.manifest import parse_resource
from crds.meta import API_VERSION
from crds.names import is_dns_label, to_dns_label
from crds.resource import Resource

SUFFIX = ".yaml"
"""AliECS reads `<name>.yaml` only (its repository manager appends it)."""
KINDS = {"workflows": "Workflow", "tasks": "TaskClass"}
"""Folder of the repository -> the o2 kind its files become."""
_WORKFLOW_FIELDS = ("name", "description", "defaults", "vars", "roles")


class TextFile(Protocol):
    """A file of the repository: its path (relative to the repository root) and its text."""

    @property
    def path(self) -> str: ...

    @property
    def text(self) -> str: ...


@dataclass(frozen=True)
class SourceFile:
    """A TextFile built by hand (tests, `o2 convert`)."""

    path: str
    text: str


def o2_name(name: str) -> str:
    """The o2 object name of an AliECS workflow or task template name."""
    return name if is_dns_label(name) else to_dns_label(name)


def referenced_name(reference: str) -> str:
    """The o2 name an AliECS reference to a workflow or task template resolves to: AliECS
    writes `name`, `repo/name`, `name@rev` or `github.com/Org/Repo/workflows/name@rev`; o2
    syncs one revision of a repository per GitSource, so only the name counts."""
    return o2_name(reference.strip().split("@", 1)[0].rsplit("/", 1)[-1])


def kind_of(path: str, *, root: str = ".") -> str | None:
    """`Workflow` or `TaskClass` for `<root>/workflows/*.yaml` / `<root>/tasks/*.yaml`."""
    rel = PurePosixPath(path)
    if root not in ("", "."):
        if not rel.is_relative_to(root):
            return None
        rel = rel.relative_to(root)
    if len(rel.parts) != 2 or rel.suffix != SUFFIX or rel.name.startswith("."):
        return None
    return KINDS.get(rel.parts[0])


@dataclass(frozen=True)
class Translation:
    """What a repository translates to."""

    objects: list[Resource]
    """TaskClasses, then Workflows, each in path order."""
    warnings: list[FieldError]
    """Constructs AliECS accepts but drops (o2 drops them too), each at its file and line."""


def translate(
    files: Sequence[TextFile], *, root: str = ".", expr: Callable[[str], str] = to_o2
) -> Translation:
    """The TaskClasses then Workflows of the AliECS files among `files` (others are ignored).

    Raises ValidationError listing every problem in every file.
    """
    out: list[Resource] = []
    errors: list[FieldError] = []
    warnings: list[FieldError] = []
    taken: dict[tuple[str, str], str] = {}
    chosen = sorted(((f, kind_of(f.path, root=root)) for f in files), key=lambda c: c[0].path)
    ordered = [(f, k) for k in ("TaskClass", "Workflow") for f, kind in chosen if kind == k]
    for file, kind in ordered:
        reader = Reader(source=file.path, expr=expr)
        stem = PurePosixPath(file.path).stem
        name = o2_name(stem)
        first = taken.get((kind, name))
        if first is not None:
            reader.fail(None, "name", _clash(kind, stem, name, first))
            errors.extend(reader.errors)
            continue
        taken[(kind, name)] = file.path
        obj = _translate_file(reader, file.text, kind=kind, stem=stem)
        errors.extend(reader.errors)
        warnings.extend(reader.warnings)
        if obj is not None:
            out.append(obj)
    if errors:
        raise ValidationError(errors)
    return Translation(objects=out, warnings=warnings)


def _clash(kind: str, stem: str, name: str, first: str) -> str:
    return (
        f"{kind} name {stem!r} becomes {name!r} in o2 (names are lower-case DNS labels), "
        f"which {first} already has: rename one of the files"
    )


def _translate_file(reader: Reader, text: str, *, kind: str, stem: str) -> Resource | None:
    root = compose(reader, text)
    if root is None:
        return None
    if kind == "Workflow":
        spec = _workflow_spec(reader, root, stem=stem)
    else:
        spec = task_spec(reader, root)
    if spec is None or reader.errors:
        return None
    data: Wire = {
        "apiVersion": API_VERSION,
        "kind": kind,
        "metadata": {
            "name": o2_name(stem),
            "annotations": {ALIECS_NAME: stem, ALIECS_SOURCE: reader.source},
        },
        "spec": spec,
    }
    try:
        return parse_resource(data, source=reader.source)
    except ValidationError as exc:
        reader.errors.extend(reader.located(e) for e in exc.errors)
        return None


def _workflow_spec(reader: Reader, root: yaml.Node, *, stem: str) -> Wire | None:
    found = entries(reader, root, "", allowed=_WORKFLOW_FIELDS)
    if found is None:
        return None
    if "name" not in found:
        reader.fail(root, "name", "a workflow template needs `name` (its file name)")
        return None
    name_node = found["name"][1]
    name = (scalar(reader, name_node, "name") or "").strip()
    if name != stem:
        reader.fail(
            name_node,
            "name",
            f"{name!r} differs from the file name {stem!r}: AliECS refuses such a workflow "
            "(rename the file or the workflow)",
        )
        return None
    public: dict[str, Wire] = {}
    spec: Wire = {"public": name_node.tag == PUBLIC_TAG}
    if "description" in found:
        spec["description"] = scalar(reader, found["description"][1], "description") or ""
    for key in ("defaults", "vars"):
        if key in found:
            reader.mark(f"spec.{key}", found[key][0], key)
            spec[key] = variables(
                reader, found[key][1], where=key, wire=f"spec.{key}", public=public
            )
    roles = Roles(reader=reader, public=public, name_of=o2_name)
    if "roles" in found:
        reader.mark("spec.roles", found["roles"][0], "roles")
        spec["roles"] = roles.roles(found["roles"][1], where="roles", wire="spec.roles")
    spec["variables"] = public
    return spec
