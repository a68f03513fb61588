"""Manifest bounds: aliases, documents per file, document size, nesting and values, checked
before libyaml builds anything."""

from __future__ import annotations

import resource
import time

import pytest

from crds.configpayload import parse_payload
from crds.errors import ConfigError, ValidationError
from crds.manifest import parse_documents
from crds.manifest_limits import (
    MAX_DEPTH,
    MAX_DOCUMENT_BYTES,
    MAX_DOCUMENTS,
    MAX_FILE_BYTES,
    MAX_NODES,
    check_yaml,
)
from tests.manifest_bombs import alias_bomb

TC = "apiVersion: o2/v1alpha1\nkind: TaskClass\nmetadata: {{name: tc-{i}}}\n" + (
    "spec: {{command: {{value: /bin/true}}}}\n"
)


def _refusal(text: str) -> str:
    with pytest.raises(ValidationError) as info:
        parse_documents(text, source="m.yaml")
    assert len(info.value.errors) == 1
    return info.value.errors[0].render()


def test_alias_bomb_is_refused_at_once_with_flat_memory() -> None:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.monotonic()
    message = _refusal(alias_bomb())
    elapsed = time.monotonic() - start
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert message == (
        "m.yaml: document 1: YAML aliases are not allowed in o2 manifests "
        "(found *a at line 7): write the value out in full"
    )
    assert elapsed < 1.0
    assert grown_mb < 20


def test_a_single_alias_or_merge_key_is_refused() -> None:
    text = "a: &base {x: 1}\nb:\n  <<: *base\n"
    assert "found *base at line 3" in _refusal(text)


def test_an_anchor_without_alias_and_stars_in_strings_are_accepted() -> None:
    text = TC.format(i=1).replace("/bin/true", "'sh -c \"ls *.txt && true\"'")
    assert check_yaml(text, source="m.yaml") is None
    assert check_yaml("a: &only [1, 2]\n", source="m.yaml") is None


def test_documents_per_file_are_capped() -> None:
    fits = "---\n".join(TC.format(i=i) for i in range(MAX_DOCUMENTS))
    assert len(parse_documents(fits, source="m.yaml")) == MAX_DOCUMENTS
    message = _refusal(fits + "---\n" + TC.format(i=MAX_DOCUMENTS))
    assert f"document {MAX_DOCUMENTS + 1}: more than {MAX_DOCUMENTS} YAML documents" in message


def test_document_size_is_capped() -> None:
    big = "x" * (MAX_DOCUMENT_BYTES + 10)
    message = _refusal(TC.format(i=1) + "---\n" + f"a: {big}\n")
    assert "document 2: document is 1.0 MiB; o2 manifests are limited to 1.0 MiB" in message


def test_file_size_is_capped_for_yaml_and_json() -> None:
    filler = "# " + "x" * 1000 + "\n"
    text = TC.format(i=1) + filler * (MAX_FILE_BYTES // len(filler) + 1)
    assert "file is larger than 4.0 MiB" in _refusal(text)
    assert "file is larger than 4.0 MiB" in _refusal("[" + " " * MAX_FILE_BYTES + "]")


def test_nesting_depth_is_capped() -> None:
    fits = "a: " + "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1) + "\n"
    assert check_yaml(fits, source="m.yaml") is None
    deep = "a: " + "[" * MAX_DEPTH + "]" * MAX_DEPTH + "\n"
    assert f"document 1: nested more than {MAX_DEPTH} levels deep (line 1)" in _refusal(deep)


def test_values_per_document_are_capped() -> None:
    text = "a: [" + ",".join(["0"] * MAX_NODES) + "]\n"
    assert f"document 1: more than {MAX_NODES:,} values in one document" in _refusal(text)


def test_yaml_syntax_errors_are_still_reported_by_position() -> None:
    assert "invalid YAML at line 2" in _refusal("a: [1\nb: : :\n")


def test_samples_are_well_inside_the_bounds() -> None:
    from tests.cli.conftest import SAMPLES

    for sample in sorted(SAMPLES.rglob("*.yaml")):
        assert check_yaml(sample.read_text(), source=str(sample)) is None


def test_json_manifests_are_held_to_the_same_bounds() -> None:
    deep = "[" * 100 + "]" * 100
    with pytest.raises(ValidationError, match="nested more than 64 levels"):
        parse_documents(deep, source="m.json")
    many = "[" + ",".join(["1"] * 100_001) + "]"
    with pytest.raises(ValidationError, match="more than 100,000 values"):
        parse_documents(many, source="m.json")


def test_yaml_config_payloads_refuse_aliases_before_building_anything() -> None:
    with pytest.raises(ConfigError, match=r"aliases are not allowed in o2 config payloads"):
        parse_payload("yaml", alias_bomb(), config="componentconfig/x@1")
