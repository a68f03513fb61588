"""Fuzzing manifest parsing: any text gives resources or a ValidationError with a message."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from hypothesis import example, given
from hypothesis import strategies as st

from crds.errors import ValidationError
from crds.manifest import decode_stored, parse_documents
from crds.manifest_limits import MAX_DEPTH, MAX_DOCUMENT_BYTES
from crds.resource import Resource
from tests.fuzz.harness import bounded, fuzz

pytestmark = pytest.mark.fuzz

SAMPLES = sorted((Path(__file__).parents[2] / "manifests").rglob("*.yaml"))
SAMPLE_TEXTS = [p.read_text() for p in SAMPLES]

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=40)
    | st.sampled_from(["o2/v1alpha1", "Environment", "Workflow", "TaskClass", "List", "name"])
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=12), inner, max_size=5)
    ),
    max_leaves=40,
)
yaml_scalar_text = st.sampled_from(
    [
        "2024-13-01",
        "2024-02-30",
        "2001-12-14t21:59:43.10-99:00",
        "1" * 5000,
        "0x" + "f" * 5000,
        "1e99999",
        "!!binary '%%%'",
        "!!python/object:os.system x",
        "!!set {a, b}",
        "? [a]\n: b",
        "&a x",
        "*a",
        "[" * (MAX_DEPTH + 1),
        "- " * 200,
    ]
)


def check(text: str) -> list[Resource] | None:
    """Resources, or None after a ValidationError with a message; nothing else, bounded."""
    result, error = bounded(lambda: parse_documents(text, source="fuzz.yaml"))
    if error is None:
        assert isinstance(result, list)
        assert all(isinstance(r, Resource) for r in result)
        return result
    assert isinstance(error, ValidationError), f"{type(error).__name__}: {error}"
    assert error.errors and str(error)
    return None


@given(st.text(max_size=2000))
@fuzz(150)
def test_any_text_is_resources_or_a_validation_error(text: str) -> None:
    check(text)


@given(st.lists(values, min_size=1, max_size=4), st.booleans())
@fuzz(150)
def test_random_documents_in_yaml_or_json(docs: list[object], as_json: bool) -> None:
    if as_json:
        check(json.dumps(docs if len(docs) > 1 else docs[0]))
    else:
        check(yaml.safe_dump_all(docs))


@given(st.sampled_from(SAMPLE_TEXTS), st.data())
@fuzz(150)
def test_text_mutations_of_the_samples(sample: str, data: st.DataObject) -> None:
    start = data.draw(st.integers(0, len(sample)))
    end = data.draw(st.integers(start, min(len(sample), start + 40)))
    insert = data.draw(st.text(max_size=20) | yaml_scalar_text)
    check(sample[:start] + insert + sample[end:])


@given(st.sampled_from(SAMPLE_TEXTS), st.data())
@fuzz(150)
def test_value_mutations_of_the_samples(sample: str, data: st.DataObject) -> None:
    """Replace, drop or retype one value somewhere in a valid sample document."""
    docs = [d for d in yaml.safe_load_all(sample) if d is not None]
    doc = data.draw(st.sampled_from(docs))
    node: object = doc
    while isinstance(node, dict | list) and node and data.draw(st.booleans()):
        key = data.draw(st.sampled_from(list(node) if isinstance(node, dict) else range(len(node))))
        child = node[key]  # type: ignore[index]
        if not isinstance(child, dict | list) or not child:
            break
        node = child
    if isinstance(node, dict) and node:
        key = data.draw(st.sampled_from(list(node)))
        if data.draw(st.booleans()):
            del node[key]
        else:
            node[key] = data.draw(values)
    elif isinstance(node, list) and node:
        node[data.draw(st.integers(0, len(node) - 1))] = data.draw(values)
    text = yaml.safe_dump_all(docs) if data.draw(st.booleans()) else json.dumps(docs)
    check(text)


@given(st.sampled_from(SAMPLE_TEXTS), st.data())
@fuzz(60)
def test_aliases_are_refused_with_a_message(sample: str, data: st.DataObject) -> None:
    lines = sample.splitlines()
    where = data.draw(st.integers(0, len(lines) - 1))
    lines[where] = lines[where] + " &x"
    lines.insert(data.draw(st.integers(where + 1, len(lines))), "  alias: *x")
    check("\n".join(lines))


@given(st.integers(1, 3 * MAX_DEPTH), st.sampled_from(["flow", "block", "json"]))
@fuzz(40)
def test_deep_nesting(depth: int, style: str) -> None:
    if style == "flow":
        text = "spec: " + "[" * depth + "1" + "]" * depth
    elif style == "block":
        text = "spec:\n" + "".join("  " * i + f"k{i}:\n" for i in range(depth)) + "  " * depth + "x"
    else:
        text = '{"spec": ' + "[" * depth + "1" + "]" * depth + "}"
    check("apiVersion: o2/v1alpha1\nkind: Environment\n" + text if style != "json" else text)


@given(st.integers(1, MAX_DOCUMENT_BYTES - 200), st.sampled_from(["name", "workflow", "label"]))
@fuzz(12)
@example(size=MAX_DOCUMENT_BYTES - 200, field="workflow")
def test_huge_scalars_within_the_limits(size: int, field: str) -> None:
    big = "a" * size
    meta = {"name": big if field == "name" else "env"}
    if field == "label":
        meta["labels"] = {"k": big}  # type: ignore[assignment]
    doc = {"apiVersion": "o2/v1alpha1", "kind": "Environment", "metadata": meta}
    doc["spec"] = {"workflow": big if field == "workflow" else "w"}
    check(json.dumps(doc))


@given(st.sampled_from(["2024-13-01", "2024-02-30", "1" * 5000, "2001-12-14 21:59:43 +99:00"]))
@fuzz(4)
def test_scalars_yaml_cannot_build_are_validation_errors(value: str) -> None:
    """These raised a bare ValueError out of the YAML loader before."""
    text = f"apiVersion: o2/v1alpha1\nkind: Environment\nmetadata: {{name: {value}}}\n"
    assert check(text) is None


@given(st.binary(max_size=500) | st.text(max_size=500).map(str.encode))
@fuzz(150)
@example(raw=b"[" * 100_000)
@example(raw=b'{"apiVersion": "o2/v1alpha1", "kind": "Environment", "metadata": []}')
def test_stored_registry_values_decode_or_are_unreadable(raw: bytes) -> None:
    result, error = bounded(
        lambda: decode_stored(raw, key="/o2/registry/environments/env", resource_version=3)
    )
    if error is not None:
        assert type(error).__name__ == "UnreadableObjectError", f"{type(error).__name__}: {error}"
        assert "/o2/registry/environments/env" in str(error)
    else:
        assert isinstance(result, Resource)
