"""o2's label, annotation and finalizer keys: one scheme, one module, legacy keys migrated."""

from __future__ import annotations

import re
from pathlib import Path

from crds.kinds.task import Task
from crds.labels import (
    ANNOTATIONS,
    ENV_LABEL,
    FINALIZERS,
    IDLE_LABEL,
    KILL_TASK_FINALIZER,
    LABELS,
    LEGACY,
    PREFIX,
    ROLE_LABEL,
    canonical,
    legacy_keys,
    renamed,
    renamed_finalizers,
)
from crds.manifest import parse_documents
from crds.meta import ObjectMeta

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("crds", "store", "controller", "cli", "gui", "executor", "localmesos", "mesosapi")
KEY_LITERAL = re.compile(r"""["'](o2\.[a-z][a-z.-]*/?[a-z.-]*)["']""")


def test_every_key_is_under_the_one_prefix_and_legacy_keys_are_not() -> None:
    assert all(key.startswith(PREFIX) for key in LABELS | ANNOTATIONS | FINALIZERS)
    assert not any(key.startswith(PREFIX) for key in LEGACY)
    assert set(LEGACY.values()) <= LABELS | ANNOTATIONS | FINALIZERS


def test_no_product_module_spells_an_o2_key_but_crds_labels() -> None:
    found = []
    for package in PRODUCT:
        for path in (ROOT / package).rglob("*.py"):
            if path.name.endswith(("_pb2.py", "_pb2_grpc.py")) or path == ROOT / "crds/labels.py":
                continue
            for match in KEY_LITERAL.finditer(path.read_text()):
                if not match.group(1).startswith("o2.occ."):  # the OCC gRPC service name
                    found.append(f"{path.relative_to(ROOT)}: {match.group(1)}")
    assert found == []


def test_renaming_keeps_order_and_prefers_a_new_key_over_its_legacy_twin() -> None:
    assert renamed({"app": "x", ENV_LABEL: "p1"}) is None
    assert list(renamed({"app": "x", "o2.role": "r", "z": "1"}) or {}) == ["app", ROLE_LABEL, "z"]
    assert renamed({"o2.idle": "false", IDLE_LABEL: "true"}) == {IDLE_LABEL: "true"}
    assert renamed_finalizers(("a", KILL_TASK_FINALIZER)) is None
    assert renamed_finalizers(("o2.tasks/kill", "a", KILL_TASK_FINALIZER)) == (
        KILL_TASK_FINALIZER,
        "a",
    )


def test_canonical_and_legacy_keys_name_the_deprecated_keys() -> None:
    assert canonical("o2.environment/name") == ENV_LABEL
    assert canonical("app") == "app"
    assert legacy_keys(["app", "o2.idle", ENV_LABEL]) == ["o2.idle"]


def test_metadata_read_with_legacy_keys_carries_the_new_ones() -> None:
    meta = ObjectMeta.model_validate(
        {
            "name": "t1",
            "labels": {"o2.environment/name": "physics-1", "team": "tpc"},
            "annotations": {"o2.configured-with": "abc"},
            "finalizers": ["o2.tasks/kill"],
        }
    )
    assert meta.labels == {ENV_LABEL: "physics-1", "team": "tpc"}
    assert meta.annotations == {LEGACY["o2.configured-with"]: "abc"}
    assert meta.finalizers == (KILL_TASK_FINALIZER,)


def test_a_manifest_with_a_legacy_label_round_trips_with_the_new_key() -> None:
    text = """
apiVersion: o2/v1alpha1
kind: Task
metadata: {name: t1, labels: {o2.idle: "true"}}
spec: {taskClass: readout, command: {value: /bin/true}}
"""
    (task,) = parse_documents(text, source="t1.yaml")
    assert isinstance(task, Task)
    assert task.metadata.labels == {IDLE_LABEL: "true"}
    assert Task.model_validate(task.to_wire()) == task
