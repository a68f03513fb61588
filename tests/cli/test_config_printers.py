"""`o2 config` views on ComponentConfigs built in memory: the paths the etcd tests leave out."""

from __future__ import annotations

import io

import pytest
from rich.console import Console, RenderableType

from cli.config_printers import (
    configs_table,
    history_table,
    kept_payload,
    rendered_payload,
    show_header,
    versions_diff,
)
from cli.config_store import find_slot, users_by_version
from crds.errors import ConfigError
from crds.kinds.componentconfig import ComponentConfig
from crds.kinds.environment import Environment, EnvironmentSpec
from crds.meta import ObjectMeta
from tests.configs.factories import NOW, cc, edit, record


def render(renderable: RenderableType) -> list[list[str]]:
    buffer = io.StringIO()
    Console(file=buffer, width=200, no_color=True, highlight=False).print(renderable)
    return [line.split() for line in buffer.getvalue().splitlines()]


def three_versions(*, fmt: str = "text") -> ComponentConfig:
    """Versions 1 and 2 recorded (2 is what tasks receive), 3 only in spec."""
    obj = record(cc("readout-x", data="a\n", fmt=fmt))
    obj = record(edit(obj, "a\nb\n"))
    return edit(obj, "c\n")


def test_history_stars_the_delivered_version_and_lists_the_unrecorded_one_last() -> None:
    rows = render(history_table(three_versions(), now=NOW, used_by={1: ["tpc", "its"]}))
    assert rows[0] == ["VERSION", "CHANGED", "GENERATION", "LINES", "BYTES", "USED-BY"]
    # generation is 0: these objects never went through a store
    assert rows[1] == ["1", "0s", "0", "1", "2", "its,tpc"]
    assert rows[2] == ["2", "*", "0s", "0", "2", "4"]
    assert rows[3] == ["3", "(not-recorded-yet)", "0", "1", "2"]


def test_list_groups_by_component_and_entry_and_marks_unrecorded_payloads() -> None:
    configs = [
        record(cc("z-qc", component="qc")),
        cc("b-readout-physics", run_type="PHYSICS"),
        record(cc("a-readout-any")),
    ]
    rows = render(configs_table(configs))
    assert [(r[0], r[6]) for r in rows[1:]] == [
        ("z-qc", "1"),
        ("a-readout-any", "1"),
        ("b-readout-physics", "0+"),
    ]


def test_show_of_a_version_no_longer_kept_names_the_config() -> None:
    with pytest.raises(ConfigError, match=r"^readout-x@2: version 9 is not kept$"):
        kept_payload(three_versions(), 9)
    assert kept_payload(three_versions(), 1) == "a\n"


def test_show_header_notes_an_unrecorded_payload_only_for_the_default_version() -> None:
    obj = three_versions()
    default = show_header(obj, version=2, asked=False)
    assert default.startswith("# componentconfig/readout-x@2 (readout/ANY/any/main, text); ")
    assert "newer payload, version 3" in default
    asked = show_header(obj, version=1, asked=True)
    assert asked == "# componentconfig/readout-x@1 (readout/ANY/any/main, text)"


def test_rendering_an_older_version_is_format_checked_and_names_that_version() -> None:
    obj = record(cc("qc-x", component="qc", fmt="json", data='{"a": {{ a }}}'))
    obj = record(edit(obj, '{"b": 1}'))
    old = kept_payload(obj, 1)
    assert rendered_payload(obj, old, version=1, variables={"a": "5"}) == '{"a": 5}'
    with pytest.raises(ConfigError, match=r"^componentconfig/qc-x@1 line 1: invalid JSON"):
        rendered_payload(obj, old, version=1, variables={"a": "x y"})


def test_diff_defaults_to_previous_against_current_and_lists_what_is_kept() -> None:
    obj = three_versions()
    assert versions_diff(obj, old=None, new=None).splitlines()[:2] == [
        "--- readout-x@2",
        "+++ readout-x@3",
    ]
    with pytest.raises(ConfigError, match=r"version 7 is not kept \(kept: 1, 2\)$"):
        versions_diff(obj, old=7, new=None)
    with pytest.raises(ConfigError, match=r"readout-x@2: only one version so far"):
        versions_diff(obj, old=None, new=1)


def test_used_by_reads_every_ref_of_every_environment_and_skips_bare_names() -> None:
    def env(name: str, refs: dict[str, str]) -> Environment:
        obj = Environment(metadata=ObjectMeta(name=name), spec=EnvironmentSpec(workflow="w"))
        status = obj.status.model_copy(update={"config_versions": refs})
        return obj.model_copy(update={"status": status})

    envs = [
        env("tpc", {"readout/main": "readout-x@2", "qc/main": "qc-x@1,readout-x@1"}),
        env("its", {"readout/main": "readout-x@2"}),
        env("mft", {"readout/main": "readout-x"}),
    ]
    assert users_by_version("readout-x", envs) == {2: ["tpc", "its"], 1: ["tpc"]}


def test_import_finds_its_exact_slot_without_falling_back() -> None:
    configs = [cc("any-any"), cc("physics-any", run_type="PHYSICS")]
    found = find_slot(configs, "readout", "main", run_type="PHYSICS", role="any")
    assert found is not None and found.metadata.name == "physics-any"
    assert find_slot(configs, "readout", "main", run_type="PHYSICS", role="qc") is None
