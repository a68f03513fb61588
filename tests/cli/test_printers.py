"""Printers render into a rich Console on a string buffer: what people and scripts see."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

import yaml
from rich.console import Console, RenderableType

from cli import printers
from crds.errors import FieldError, UnreadableObjectError
from crds.kinds import Environment, Event, TaskClass
from crds.meta import Condition
from crds.resource import kind_info

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def render(renderable: RenderableType) -> str:
    buffer = io.StringIO()
    Console(file=buffer, width=200, no_color=True, highlight=False).print(renderable)
    return buffer.getvalue()


def env(name: str = "physics-1", *, age: timedelta = timedelta(minutes=5)) -> Environment:
    return Environment.model_validate(
        {
            "apiVersion": "o2/v1alpha1",
            "kind": "Environment",
            "metadata": {
                "name": name,
                "uid": "u-1",
                "resourceVersion": 7,
                "generation": 2,
                "labels": {"team": "tpc"},
                "creationTimestamp": (NOW - age).isoformat(),
            },
            "spec": {"workflow": "readout-dataflow", "state": "RUNNING"},
            "status": {
                "state": "CONFIGURED",
                "conditions": [
                    {
                        "type": "Ready",
                        "status": "False",
                        "reason": "Transitioning",
                        "message": "START_ACTIVITY in progress",
                        "lastTransitionTime": (NOW - timedelta(seconds=30)).isoformat(),
                    }
                ],
            },
        }
    )


def event(reason: str, *, count: int = 1, involved: str = "physics-1") -> Event:
    return Event.model_validate(
        {
            "apiVersion": "o2/v1alpha1",
            "kind": "Event",
            "metadata": {"name": f"ev-{reason.lower()}"},
            "spec": {
                "involvedObject": {"kind": "Environment", "name": involved},
                "type": "Warning",
                "reason": reason,
                "message": f"{reason} happened",
                "count": count,
                "firstTimestamp": (NOW - timedelta(minutes=20)).isoformat(),
                "lastTimestamp": (NOW - timedelta(minutes=1)).isoformat(),
                "source": "environment-controller",
            },
        }
    )


def test_age_follows_kubectl_short_durations() -> None:
    ago = [5, 125, 42 * 60, 5 * 3600 + 3 * 60, 20 * 3600, 3 * 86400 + 4 * 3600, 400 * 86400]
    got = [printers.human_age(NOW - timedelta(seconds=s), now=NOW) for s in ago]
    assert got == ["5s", "2m5s", "42m", "5h3m", "20h", "3d4h", "400d"]
    assert printers.human_age(None, now=NOW) == "<none>"


def test_environment_table_shows_state_run_and_task_columns_then_age() -> None:
    info = kind_info("env")
    out = render(printers.resource_table(info, [env()], now=NOW))
    header, row = out.splitlines()[:2]
    assert header.split() == ["NAME", "WORKFLOW", "STATE", "DESIRED", "RUN", "TASKS", "AGE"]
    assert row.split()[:4] == ["physics-1", "readout-dataflow", "CONFIGURED", "RUNNING"]
    assert row.split()[-1] == "5m"


def test_wide_adds_wide_only_columns() -> None:
    info = kind_info("environments")
    narrow = printers.table_headers(info)
    wide = printers.table_headers(info, wide=True)
    assert "RUN-TYPE" in wide
    assert "RUN-TYPE" not in narrow


def test_get_all_qualifies_names_with_kind() -> None:
    info = kind_info("env")
    row = printers.table_row(info, env(), now=NOW, qualify=True)
    assert row[0] == "environment/physics-1"


def test_event_table_keeps_its_own_name_placement() -> None:
    info = kind_info("ev")
    assert printers.table_headers(info)[0] == "TYPE"
    assert "NAME" in printers.table_headers(info, wide=True)


def test_broken_printer_column_does_not_break_listing() -> None:
    info = kind_info("env")

    def explode(obj: object) -> str:
        raise KeyError("spec")

    broken = type(info.columns[1])("WORKFLOW", explode)
    patched = type(info)(
        kind=info.kind,
        plural=info.plural,
        singular=info.singular,
        short_names=info.short_names,
        model=info.model,
        columns=(info.columns[0], broken),
    )
    assert printers.table_row(patched, env(), now=NOW)[1] == "<error>"


def test_json_of_one_named_object_is_the_object_and_of_many_a_list() -> None:
    one = printers.output_document([env()], single=True)
    many = printers.output_document([env("a"), env("b")], single=False)
    assert one["kind"] == "Environment"
    assert one["metadata"]["name"] == "physics-1"
    assert many["kind"] == "List"
    assert many["apiVersion"] == "o2/v1alpha1"
    assert [i["metadata"]["name"] for i in many["items"]] == ["a", "b"]
    assert json.loads(printers.json_text(many)) == many
    assert yaml.safe_load(printers.yaml_text(many)) == many


def test_names_output_is_kind_slash_name() -> None:
    info = kind_info("env")
    assert printers.object_names(info, [env("a"), env("b")]) == [
        "environment/a",
        "environment/b",
    ]


def test_describe_shows_metadata_spec_status_conditions_then_events_last() -> None:
    out = render(printers.describe(env(), events=[event("Launched").to_wire()], now=NOW))
    order = [out.index(s) for s in ("Name:", "Labels:", "Spec:", "Status:", "Conditions:")]
    assert order == sorted(order)
    assert out.index("Events:") > order[-1]
    assert "team=tpc" in out
    assert "workflow:  readout-dataflow" in out
    assert "Transitioning" in out
    assert "START_ACTIVITY in progress" in out
    assert "Launched happened" in out


def test_describe_without_events_says_none() -> None:
    out = render(printers.describe(env(), events=[], now=NOW))
    assert "Events:  <none>" in out


def test_repeated_event_shows_count_over_first_seen() -> None:
    row = printers.event_row(event("BackOff", count=3).to_wire(), now=NOW)
    assert row[2] == "60s (x3 over 20m)"
    assert row[3] == "environment-controller"


def test_involves_matches_kind_and_name_only() -> None:
    assert printers.involves(event("A").to_wire(), env())
    assert not printers.involves(event("A", involved="other").to_wire(), env())


def test_conditions_table_lists_each_condition() -> None:
    conds = (
        Condition(type="Ready", status="True", reason="Ok"),
        Condition(type="Stalled", status="False"),
    )
    out = render(printers.conditions_table(conds, now=NOW))
    assert "Ready" in out
    assert "Stalled" in out


def test_field_errors_print_file_document_kind_name_and_path() -> None:
    err = FieldError(
        path="spec.wants.cpus",
        message="Input should be greater than or equal to 0",
        source="bad.yaml",
        document=2,
        kind="TaskClass",
        name="readout",
    )
    out = render(printers.field_errors_text([err]))
    assert "bad.yaml: document 2: TaskClass/readout: spec.wants.cpus:" in out


def test_unreadable_warning_names_the_key() -> None:
    err = UnreadableObjectError("/o2/registry/environments/x", "not JSON")
    assert "/o2/registry/environments/x" in render(printers.unreadable_text(err))


def test_diff_of_equal_objects_is_empty_and_changes_show_as_unified_diff() -> None:
    base = env()
    assert printers.essence_diff(base, base) == ""
    changed = base.model_copy(update={"spec": base.spec.model_copy(update={"state": "DONE"})})
    text = printers.essence_diff(base, changed)
    assert text.startswith("--- live/environment/physics-1\n+++ file/environment/physics-1\n")
    assert "-  state: RUNNING" in text
    assert "+  state: DONE" in text


def test_diff_ignores_status_and_server_fields() -> None:
    base = env()
    other = base.model_copy(
        update={"metadata": base.metadata.model_copy(update={"resource_version": 99})}
    )
    assert printers.essence_diff(base, other) == ""


def test_diff_against_missing_live_object_adds_everything() -> None:
    tc = TaskClass.model_validate(
        {
            "apiVersion": "o2/v1alpha1",
            "kind": "TaskClass",
            "metadata": {"name": "readout"},
            "spec": {"command": {"value": "true"}},
        }
    )
    text = printers.essence_diff(None, tc)
    assert "+++ file/taskclass/readout" in text
    assert all(not line.startswith("-") or line.startswith("---") for line in text.splitlines())


def test_nested_lines_indent_like_describe() -> None:
    lines = printers.nested_lines({"a": {"b": 1, "c": [1, {"d": "x"}]}, "e": {}})
    assert lines == ["a:", "  b:  1", "  c:", "    - 1", "    - d:  x", "e:  <none>"]
