"""Every sample manifest parses, and round-trips through the wire form unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest

from crds.manifest import parse_documents, parse_resource
from crds.resource import all_kinds

MANIFESTS = Path(__file__).resolve().parents[2] / "manifests"
SAMPLES = MANIFESTS / "samples"
# samples/ is what `o2 up` applies; examples/ holds the kinds the controllers normally write.
SAMPLE_FILES = sorted(SAMPLES.glob("*.yaml")) + sorted((MANIFESTS / "examples").glob("*.yaml"))


def _load(path: Path) -> list[object]:
    return list(parse_documents(path.read_text(), source=str(path)))


def test_samples_directory_is_not_empty() -> None:
    assert len(SAMPLE_FILES) >= 5


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=lambda p: p.name)
def test_sample_parses_and_round_trips_through_wire(path: Path) -> None:
    for obj in parse_documents(path.read_text(), source=str(path)):
        again = parse_resource(obj.to_wire(), source="wire")
        assert again == obj


def test_samples_cover_every_kind() -> None:
    kinds = {
        obj.kind for path in SAMPLE_FILES for obj in parse_documents(path.read_text(), source="")
    }
    assert {info.kind for info in all_kinds()} == kinds


def test_sample_workflow_refers_only_to_sample_taskclasses() -> None:
    objs = [o for path in SAMPLE_FILES for o in parse_documents(path.read_text(), source="")]
    classes = {o.name for o in objs if o.kind == "TaskClass"}
    from crds.kinds.workflow import Workflow, walk_roles

    workflows = [o for o in objs if isinstance(o, Workflow)]
    used = {r.task.class_ for wf in workflows for _, r in walk_roles(wf.spec.roles) if r.task}
    assert used and used <= classes


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=lambda p: p.name)
def test_every_printer_column_renders_every_sample(path: Path) -> None:
    from crds.resource import kind_info

    for obj in parse_documents(path.read_text(), source=str(path)):
        cells = [column.value(obj) for column in kind_info(obj.kind).columns]
        assert all(isinstance(cell, str) for cell in cells)
        assert obj.name in cells
