"""Resolution precedence (exact > ANY/role > runType/any > ANY/any) and version references."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from controller.configs.resolve import ConfigFunction, merge_refs
from crds.configresolve import (
    ConfigIndex,
    Lookup,
    candidates,
    current_version,
    delivered,
    parse_ref,
    payload_at,
    render_config,
    resolve,
    role_rank,
    version_ref,
)
from crds.errors import ConfigError, ConfigNotFoundError
from crds.kinds.componentconfig import ComponentConfig, record_version
from tests.configs.factories import cc, edit, record

NOW = datetime(2026, 1, 1, tzinfo=UTC)
ROLE = "flp-TPC.readout"
SLOTS = {
    "exact": ("PHYSICS", ROLE),
    "any-role": ("ANY", ROLE),
    "runtype-any": ("PHYSICS", "any"),
    "any-any": ("ANY", "any"),
}
"""The four slots in decreasing precedence."""


def repository() -> list[ComponentConfig]:
    return [
        cc("readout-any", data="rate=1"),
        cc("readout-physics", run_type="PHYSICS", data="rate=100"),
        cc("readout-technical-tpc", run_type="TECHNICAL", role="flp-TPC.readout", data="rate=7"),
    ]


def test_physics_and_technical_environments_receive_different_payloads() -> None:
    configs = repository()
    physics = resolve(configs, component="readout", run_type="PHYSICS", role=ROLE)
    technical = resolve(configs, component="readout", run_type="TECHNICAL", role=ROLE)
    assert physics.spec.data == "rate=100"
    assert technical.spec.data == "rate=7"


def test_missing_specific_entry_falls_back_to_any_run_type_and_any_role() -> None:
    configs = repository()
    its = resolve(configs, component="readout", run_type="TECHNICAL", role="flp-ITS.readout")
    cosmics = resolve(configs, component="readout", run_type="COSMICS", role=ROLE)
    assert its.metadata.name == "readout-any"
    assert cosmics.metadata.name == "readout-any"


def test_run_type_matches_case_insensitively() -> None:
    found = resolve(repository(), component="readout", run_type="physics", role=ROLE)
    assert found.metadata.name == "readout-physics"


def test_role_matches_whole_path_before_last_segment() -> None:
    configs = [
        cc("by-name", run_type="PHYSICS", role="readout", data="n"),
        cc("by-path", role=ROLE, data="p"),
    ]
    assert resolve(configs, component="readout", run_type="PHYSICS", role=ROLE).spec.data == "p"
    other = resolve(configs, component="readout", run_type="PHYSICS", role="flp-ITS.readout")
    assert other.spec.data == "n"
    assert role_rank("readout", "flp-ITS.stfb") is None


def test_no_match_names_the_lookup_and_what_exists() -> None:
    configs = [cc("qc-physics", component="qc", run_type="PHYSICS")]
    with pytest.raises(ConfigNotFoundError) as err:
        resolve(configs, component="qc", run_type="TECHNICAL", role="qc-0")
    assert "qc/TECHNICAL/qc-0/main" in str(err.value)
    assert "existing: PHYSICS/any" in str(err.value)
    with pytest.raises(ConfigNotFoundError, match="no ComponentConfig for component 'readout'"):
        resolve(configs, component="readout")
    with pytest.raises(ConfigNotFoundError, match="has no entry 'extra'"):
        resolve(configs, component="qc", entry="extra")


def test_deleted_config_is_not_resolved() -> None:
    gone = cc("readout-physics", run_type="PHYSICS", data="old")
    meta = gone.metadata.model_copy(update={"deletion_timestamp": NOW})
    configs = [gone.model_copy(update={"metadata": meta}), cc("readout-any", data="any")]
    assert resolve(configs, component="readout", run_type="PHYSICS").spec.data == "any"


@given(
    present=st.sets(st.sampled_from(sorted(SLOTS)), min_size=1),
    names=st.permutations(["a", "b", "c", "d"]),
)
def test_the_most_specific_present_slot_always_wins(present: set[str], names: list[str]) -> None:
    configs = [
        cc(name, run_type=SLOTS[slot][0], role=SLOTS[slot][1], data=slot)
        for name, slot in zip(names, sorted(present), strict=False)
    ]
    expected = next(slot for slot in SLOTS if slot in present)
    found = resolve(configs, component="readout", run_type="PHYSICS", role=ROLE)
    assert found.spec.data == expected


@given(st.lists(st.sampled_from(["x", "y", "z"]), min_size=1, max_size=30))
def test_versions_count_payload_changes_and_history_stays_bounded(edits: list[str]) -> None:
    obj = cc("c")
    changes = 0
    last = ""
    for data in edits:
        obj = obj.model_copy(update={"spec": obj.spec.model_copy(update={"data": data})})
        changes += data != last
        last = data
        assert current_version(obj) == obj.status.version + (
            not obj.status.history or obj.status.history[-1].data != data
        )
        obj = obj.model_copy(update={"status": record_version(obj, now=NOW)})
    assert obj.status.version == changes
    assert len(obj.status.history) == min(changes, 20)
    assert payload_at(obj, obj.status.version) == last


def test_tasks_receive_only_recorded_versions_and_refs_name_them() -> None:
    obj = cc("readout-any", data="v1")
    with pytest.raises(ConfigError, match="no version recorded yet"):
        delivered(obj)
    obj = record(obj)
    assert (version_ref(obj), delivered(obj).data) == ("readout-any@1", "v1")
    obj = edit(obj, "v2")  # edited, not recorded yet: tasks still receive version 1
    assert (version_ref(obj), delivered(obj).data, current_version(obj)) == (
        "readout-any@1",
        "v1",
        2,
    )
    assert render_config(obj, {}) == "v1"
    obj = record(obj)
    assert (version_ref(obj), render_config(obj, {})) == ("readout-any@2", "v2")
    assert payload_at(obj, 1) == "v1"
    assert parse_ref("readout-any@2") == ("readout-any", 2)
    assert parse_ref("readout-any") == ("readout-any", None)


def test_config_function_renders_for_the_task_and_records_what_it_used() -> None:
    configs = [
        *(record(c) for c in repository()),
        cc("qc-any", component="qc", data="det={{ detector }}", recorded=True),
    ]
    fn = ConfigFunction(configs, run_type="PHYSICS", role=ROLE, variables={"detector": "TPC"})
    assert fn("readout") == "rate=100"
    assert fn("qc") == "det=TPC"
    recorded = merge_refs({"old/main": "x@1"}, fn.used)
    assert recorded == {
        "old/main": "x@1",
        "readout/main": "readout-physics@1",
        "qc/main": "qc-any@1",
    }


SLOT = st.tuples(
    st.sampled_from(["readout", "qc"]),
    st.sampled_from(["main", "extra"]),
    st.sampled_from(["ANY", "PHYSICS", "TECHNICAL"]),
    st.sampled_from(["any", "readout", ROLE, "flp-ITS.readout"]),
)


@given(slots=st.lists(SLOT, min_size=1, max_size=12), lookups=st.lists(SLOT, max_size=12))
def test_index_answers_as_a_scan_of_every_config(
    slots: list[tuple[str, str, str, str]], lookups: list[tuple[str, str, str, str]]
) -> None:
    configs = [
        cc(f"c{i}", component=c, entry=e, run_type=rt, role=r)
        for i, (c, e, rt, r) in enumerate(slots)
    ]
    index = ConfigIndex(configs)
    for component, entry, run_type, role in lookups * 2:  # twice: the memo answers the same
        lookup = Lookup(component=component, entry=entry, run_type=run_type, role=role)
        scan = candidates(configs, lookup)
        if not scan:
            with pytest.raises(ConfigNotFoundError):
                index.resolve(component=component, entry=entry, run_type=run_type, role=role)
            continue
        found = index.resolve(component=component, entry=entry, run_type=run_type, role=role)
        assert found.metadata.name == scan[0].metadata.name
