"""Durations, DNS names, conditions and generated schemas."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crds.conditions import (
    condition_status,
    get_condition,
    is_ready,
    remove_condition,
    set_condition,
)
from crds.duration import format_duration, parse_duration
from crds.meta import Condition
from crds.names import MAX_LABEL, is_dns_label, join_label, to_dns_label
from crds.schemagen import main as schemagen_main
from crds.schemagen import stale_files, write_schemas

T0 = datetime(2026, 1, 1, tzinfo=UTC)
T1 = T0 + timedelta(seconds=5)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("10s", 10), ("1m30s", 90), ("500ms", 0.5), ("2h", 7200), ("1.5s", 1.5), ("0", 0)],
)
def test_durations_parse_to_seconds(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "10", "s", "10x", "-1s", "1m 30s", "ten seconds"])
def test_bad_durations_are_rejected(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


@given(st.integers(min_value=0, max_value=10**6))
def test_formatted_durations_parse_back(seconds: int) -> None:
    assert parse_duration(format_duration(seconds)) == seconds


def test_names_are_lowered_and_cleaned() -> None:
    assert to_dns_label("flp-TPC-readout") == "flp-tpc-readout"
    assert to_dns_label("physics-1.flp_TPC..readout") == "physics-1-flp-tpc-readout"
    assert to_dns_label("--") == "x"
    assert join_label("physics-1", "", "flp-TPC") == "physics-1-flp-tpc"


def test_long_names_are_truncated_with_a_stable_distinct_hash() -> None:
    a = to_dns_label("e" * 80 + "-readout")
    b = to_dns_label("e" * 80 + "-stfb")
    assert len(a) == MAX_LABEL and is_dns_label(a)
    assert a != b
    assert a == to_dns_label("E" * 80 + "-READOUT")


@given(st.text(max_size=120))
def test_any_text_becomes_a_valid_label(text: str) -> None:
    assert is_dns_label(to_dns_label(text))


def test_set_condition_keeps_transition_time_while_status_is_unchanged() -> None:
    ready = Condition(type="Ready", status="False", reason="Deploying")
    conds = set_condition((), ready, now=T0)
    assert conds[0].last_transition_time == T0
    conds = set_condition(conds, ready.model_copy(update={"reason": "Configuring"}), now=T1)
    assert (conds[0].reason, conds[0].last_transition_time) == ("Configuring", T0)
    conds = set_condition(conds, Condition(type="Ready", status="True"), now=T1)
    assert conds[0].last_transition_time == T1 and len(conds) == 1


def test_set_condition_keeps_other_conditions_in_order() -> None:
    conds = set_condition((), Condition(type="Ready", status="False"), now=T0)
    conds = set_condition(conds, Condition(type="Stalled", status="True"), now=T0)
    conds = set_condition(conds, Condition(type="Ready", status="True"), now=T1)
    assert [c.type for c in conds] == ["Ready", "Stalled"]
    assert condition_status(conds, "Stalled") == "True"
    assert condition_status(conds, "Reconciling") == "Unknown"
    assert get_condition(remove_condition(conds, "Stalled"), "Stalled") is None


def test_is_ready_honours_observed_generation() -> None:
    conds = (Condition(type="Ready", status="True", observed_generation=2),)
    assert is_ready(conds)
    assert is_ready(conds, generation=2)
    assert not is_ready(conds, generation=3)
    assert not is_ready((Condition(type="Ready", status="False"),))


def test_committed_schemas_are_up_to_date() -> None:
    assert stale_files() == [], "run `make schemas`"


def test_schema_check_reports_stale_and_left_over_files(tmp_path: object) -> None:
    from pathlib import Path

    directory = Path(str(tmp_path))
    write_schemas(directory)
    assert stale_files(directory) == []
    (directory / "environments.yaml").write_text("old\n")
    (directory / "pods.yaml").write_text("gone\n")
    assert stale_files(directory) == ["environments.yaml", "pods.yaml"]


def test_schemagen_check_exits_zero_when_current() -> None:
    assert schemagen_main(["--check"]) == 0


def test_schemas_use_wire_names() -> None:
    text = (stale_files.__globals__["SCHEMA_DIR"] / "workflows.yaml").read_text()
    assert "class:" in text and "for:" in text and "class_" not in text


def test_task_names_follow_environment_and_role_path() -> None:
    assert join_label("physics-1", "flp-TPC.readout") == "physics-1-flp-tpc-readout"
