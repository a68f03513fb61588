"""Translated AliECS objects as o2 manifests (`o2 convert aliecs`). Pure: no file I/O.

A manifest holds what `o2 apply` writes (apiVersion, kind, metadata name/labels/annotations,
spec) and leaves out fields equal to their defaults, so the output reads like hand-written
o2 YAML; applying it gives the same objects as a GitSource `format: aliecs` sync.
"""

from __future__ import annotations

from collections.abc import Sequence

import yaml

from crds.kinds.workflow import Workflow, walk_roles
from crds.meta import API_VERSION
from crds.plugins import known_functions, parse_func
from crds.resource import Resource

_KIND_FOLDERS = {"Workflow": "workflows", "TaskClass": "taskclasses"}


def manifest_document(obj: Resource) -> dict[str, object]:
    """`obj` as an o2 manifest: no status, no server-set metadata, defaults left out."""
    metadata: dict[str, object] = {"name": obj.metadata.name}
    if obj.metadata.labels:
        metadata["labels"] = dict(obj.metadata.labels)
    if obj.metadata.annotations:
        metadata["annotations"] = dict(obj.metadata.annotations)
    dumped = obj.model_dump(mode="json", by_alias=True, exclude_defaults=True, include={"spec"})
    return {
        "apiVersion": API_VERSION,
        "kind": obj.kind,
        "metadata": metadata,
        "spec": dumped.get("spec", {}),
    }


def manifest_text(objs: Sequence[Resource], *, header: str = "") -> str:
    """Multi-document YAML of `objs`, each preceded by a comment naming its AliECS file."""
    parts = [f"# {line}\n" for line in header.splitlines()]
    for index, obj in enumerate(objs):
        if index or parts:
            parts.append("---\n")
        parts.append(_document_yaml(obj))
    return "".join(parts)


def manifest_path(obj: Resource) -> str:
    """Where `o2 convert -o DIR` writes `obj`: `workflows/<name>.yaml`, `taskclasses/...`."""
    folder = _KIND_FOLDERS.get(obj.kind, obj.kind.lower())
    return f"{folder}/{obj.metadata.name}.yaml"


def single_text(obj: Resource) -> str:
    """One object's manifest file."""
    return _document_yaml(obj)


def _document_yaml(obj: Resource) -> str:
    return yaml.safe_dump(
        manifest_document(obj), sort_keys=False, default_flow_style=False, width=100
    )


def missing_plugins(objs: Sequence[Resource]) -> list[str]:
    """`plugin.Function` names the Workflows call that are not installed here, sorted: `o2
    apply` refuses such a Workflow (a GitSource sync of an AliECS repository keeps it, and the
    call fails when it is due, as in AliECS)."""
    known = known_functions()
    missing: set[str] = set()
    for obj in objs:
        if not isinstance(obj, Workflow):
            continue
        for _, role in walk_roles(obj.spec.roles):
            if role.call is not None and role.call.func is not None:
                name = parse_func(role.call.func)
                if name not in known:
                    missing.add(name)
    return sorted(missing)
