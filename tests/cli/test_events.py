"""`o2 events`: the table by last occurrence, filters, documents, and -w streaming from the
watch (an Event written by etcdctl after the listing shows up as a row)."""

from __future__ import annotations

import json
from typing import Any

from tests.cli.conftest import O2, lines, spawn
from tests.cli.test_watch import STARTUP_ALLOWANCE


def event_doc(
    name: str,
    *,
    about: tuple[str, str] = ("Environment", "alpha"),
    reason: str = "Launched",
    type_: str = "Normal",
    last: str = "2026-01-01T10:00:00Z",
    count: int = 1,
) -> dict[str, Any]:
    return {
        "apiVersion": "o2/v1alpha1",
        "kind": "Event",
        "metadata": {"name": name},
        "spec": {
            "involvedObject": {"kind": about[0], "name": about[1]},
            "type": type_,
            "reason": reason,
            "message": f"{reason} message",
            "count": count,
            "firstTimestamp": "2026-01-01T09:00:00Z",
            "lastTimestamp": last,
            "source": "environment-controller",
        },
    }


def put_event(o2: O2, name: str, **kwargs: Any) -> None:
    o2.etcdctl("put", o2.key("events", name), json.dumps(event_doc(name, **kwargs)))


def seed(o2: O2) -> None:
    put_event(o2, "a-late", reason="Configured", last="2026-01-01T12:00:00Z", count=3)
    put_event(o2, "a-early", reason="Deployed", last="2026-01-01T08:00:00Z")
    put_event(o2, "t-failed", about=("Task", "alpha-readout"), reason="Failed", type_="Warning")


def test_events_table_is_sorted_by_last_seen_with_kubectls_columns(o2: O2) -> None:
    seed(o2)
    result = o2("events")
    assert result.exit_code == 0, result.stderr
    rows = lines(result.stdout)
    assert rows[0].split() == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE", "COUNT"]
    assert [r.split()[2] for r in rows[1:]] == ["Deployed", "Failed", "Configured"]
    assert rows[3].split()[3] == "environment/alpha"
    assert rows[3].split()[-1] == "3"


def test_events_for_one_object_accepts_any_spelling_of_its_kind(o2: O2) -> None:
    seed(o2)
    for spelling in ("env/alpha", "environment/alpha", "Environment/alpha"):
        rows = lines(o2("events", "--for", spelling).stdout)
        assert [r.split()[2] for r in rows[1:]] == ["Deployed", "Configured"]
    tasks = lines(o2("events", "--for", "task/alpha-readout").stdout)
    assert [r.split()[2] for r in tasks[1:]] == ["Failed"]


def test_events_filter_by_type_and_print_documents(o2: O2) -> None:
    seed(o2)
    listing = json.loads(o2("events", "--types", "warning", "-o", "json").stdout)
    assert listing["kind"] == "List"
    assert [e["metadata"]["name"] for e in listing["items"]] == ["t-failed"]
    wide = lines(o2("events", "--types", "Normal,Warning", "-o", "wide").stdout)
    assert wide[0].split()[-4:] == ["FIRST", "SEEN", "SOURCE", "NAME"]
    assert len(wide) == 4


def test_events_bad_flags_are_errors_naming_the_flag(o2: O2) -> None:
    for args, flag in (
        (["--types", "Fatal"], "--types"),
        (["--for", "alpha"], "--for"),
        (["-o", "name"], "-o"),
    ):
        result = o2("events", *args)
        assert result.exit_code == 1
        assert flag in result.stderr


def test_no_events_says_so_on_stderr(o2: O2) -> None:
    result = o2("events")
    assert result.exit_code == 0
    assert result.stdout == ""
    assert "No events found." in result.stderr


def test_events_watch_streams_new_and_updated_events_from_the_watch(o2: O2) -> None:
    put_event(o2, "a-early", reason="Deployed")
    argv = o2.argv("events", "-w", "--for", "env/alpha")
    with spawn(argv, env=o2.subprocess_env()) as watcher:
        watcher.out.wait_for("Deployed", within=STARTUP_ALLOWANCE)
        put_event(o2, "other", about=("Environment", "beta"), reason="Ignored")
        put_event(o2, "a-next", reason="Configured")
        watcher.out.wait_for("Configured", within=10)
        put_event(o2, "a-next", reason="Configured", count=7)
        watcher.out.wait_for("Configured", within=10)
        assert watcher.out.seen[-1].split()[-1] == "7"
    assert not any("Ignored" in line for line in watcher.out.drain())
    assert not any("LAST" in line for line in watcher.out.seen[1:])


def test_an_unreadable_event_is_reported_by_key_and_the_others_listed(o2: O2) -> None:
    seed(o2)
    o2.etcdctl("put", o2.key("events", "junk"), "{not json")
    result = o2("events")
    assert result.exit_code == 0
    assert o2.key("events", "junk") in result.stderr
    assert len(lines(result.stdout)) == 4


def test_events_watch_as_json_prints_one_document_per_event(o2: O2) -> None:
    put_event(o2, "a-early", reason="Deployed")
    argv = o2.argv("events", "-w", "-o", "json")
    with spawn(argv, env=o2.subprocess_env()) as watcher:
        watcher.out.wait_for('"reason": "Deployed"', within=STARTUP_ALLOWANCE)
        put_event(o2, "a-next", reason="Configured")
        watcher.out.wait_for('"reason": "Configured"', within=10)
    assert not any('"kind": "List"' in line for line in watcher.out.drain())
