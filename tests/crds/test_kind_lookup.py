"""Looking up a model's kind: a test-only kind (never registered) is answered from the registry
once every kind module is imported, with no import per call (the store asks on every key)."""

from __future__ import annotations

import importlib
from typing import Any, ClassVar, Literal

import pytest

from crds.kinds.task import Task
from crds.resource import Resource, all_kinds, info_of
from store.codec import plural_of


class Probe(Resource):
    """Registered nowhere: stands for the kinds tests and benchmarks define."""

    KIND: ClassVar[str] = "Probe"
    kind: Literal["Probe"] = "Probe"


def test_unregistered_kind_costs_no_import_after_the_first_lookup(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert plural_of(Probe) == "probes"  # the first lookup may import every kind module
    imports: list[str] = []
    original = importlib.import_module

    def counted(name: str, package: str | None = None) -> Any:
        imports.append(name)
        return original(name, package)

    monkeypatch.setattr(importlib, "import_module", counted)
    for _ in range(100):
        assert plural_of(Probe) == "probes"
        assert info_of(Probe) is None
    assert imports == []
    assert info_of(Task) is not None and plural_of(Task) == "tasks"
    assert {"Task", "Environment", "Workflow"} <= {info.kind for info in all_kinds()}
