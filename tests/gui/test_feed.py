"""The feed's pure logic: projections, coalescing, snapshot/delta consistency, SSE framing."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from crds.kinds.gitsource import GitSource, GitSourceSpec, GitSourceStatus, InventoryEntry
from crds.meta import ObjectMeta
from gui.feed import (
    Feed,
    apply_message,
    project_gitsource,
    project_task,
    sse_frame,
    sse_pieces,
)
from tests.gui.samples import task


def test_task_projection_is_compact_and_drops_empty_fields() -> None:
    wire = project_task(task("t-1", state="RUNNING", labels={"det": "TPC"}))
    assert wire["name"] == "t-1"
    assert wire["state"] == "RUNNING"
    assert wire["labels"] == {"det": "TPC"}
    assert "command" not in wire
    assert "pid" not in wire  # None is not sent


def test_gitsource_projection_replaces_inventory_with_counts() -> None:
    source = GitSource(
        metadata=ObjectMeta(name="farm"),
        spec=GitSourceSpec(url="https://example.org/farm.git"),
        status=GitSourceStatus(
            inventory=tuple(InventoryEntry(kind="Task", name=f"t{i}") for i in range(3))
        ),
    )
    wire = project_gitsource(source)
    assert wire["status"]["inventoryCount"] == 3
    assert "inventory" not in wire["status"]
    assert wire["spec"]["url"] == "https://example.org/farm.git"


def test_repeated_changes_in_one_window_become_one_change() -> None:
    feed = Feed()
    for state in ("CONFIGURED", "RUNNING", "ERROR"):
        feed.apply("tasks", "t-1", {"name": "t-1", "state": state}, revision=5)
    delta = feed.flush()
    assert delta is not None
    assert delta["changes"] == [
        {"op": "put", "kind": "tasks", "obj": {"name": "t-1", "state": "ERROR"}}
    ]
    assert delta["revision"] == 5


def test_ten_thousand_changes_flush_as_one_message() -> None:
    feed = Feed()
    for i in range(10_000):
        feed.apply("tasks", f"t-{i}", {"name": f"t-{i}", "state": "RUNNING"})
    delta = feed.flush()
    assert delta is not None and len(delta["changes"]) == 10_000
    assert feed.flush() is None  # nothing pending: no message at all


def test_object_created_and_deleted_within_a_window_is_never_sent() -> None:
    feed = Feed()
    feed.apply("tasks", "t-1", {"name": "t-1"})
    feed.apply("tasks", "t-1", None)
    assert feed.flush() is None


def test_unchanged_value_is_not_resent() -> None:
    feed = Feed()
    feed.apply("tasks", "t-1", {"name": "t-1", "state": "RUNNING"})
    feed.flush()
    feed.apply("tasks", "t-1", {"name": "t-1", "state": "RUNNING"})
    assert feed.flush() is None


def test_snapshot_reflects_only_flushed_state() -> None:
    feed = Feed()
    feed.apply("tasks", "t-1", {"name": "t-1"})
    feed.flush(revision=7)
    feed.apply("tasks", "t-2", {"name": "t-2"})
    snap = feed.snapshot()
    assert [o["name"] for o in snap["objects"]["tasks"]] == ["t-1"]
    assert snap["revision"] == 7 and snap["seq"] == 1


def test_deletion_of_known_object_is_sent_as_del() -> None:
    feed = Feed()
    feed.apply("environments", "e", {"metadata": {"name": "e"}})
    feed.flush()
    feed.apply("environments", "e", None)
    delta = feed.flush()
    assert delta is not None
    assert delta["changes"] == [{"op": "del", "kind": "environments", "name": "e"}]


def test_sse_frame_carries_seq_as_id_and_one_line_of_json() -> None:
    frame = sse_frame("delta", {"seq": 3, "revision": 9, "changes": []}).decode()
    lines = frame.split("\n")
    assert lines[0] == "id: 3" and lines[1] == "event: delta"
    assert json.loads(lines[2].removeprefix("data: "))["revision"] == 9
    assert frame.endswith("\n\n")


ops = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "c", "d"]),
        st.one_of(st.none(), st.sampled_from(["STANDBY", "RUNNING", "ERROR"])),
        st.booleans(),
    ),
    max_size=40,
)


@given(ops=ops, join_at=st.integers(min_value=0, max_value=40))
def test_late_subscriber_converges_with_early_one(
    ops: list[tuple[str, str | None, bool]], join_at: int
) -> None:
    """Snapshot + later deltas == every delta from the start == the source of truth."""
    feed = Feed()
    early: dict[str, dict[str, dict[str, object]]] = {}
    apply_message(early, "snapshot", feed.snapshot())
    late: dict[str, dict[str, dict[str, object]]] | None = None
    truth: dict[str, dict[str, object]] = {}
    for i, (name, state, flush) in enumerate(ops):
        wire: dict[str, object] | None = None if state is None else {"name": name, "state": state}
        feed.apply("tasks", name, wire)
        if wire is None:
            truth.pop(name, None)
        else:
            truth[name] = wire
        if flush and (delta := feed.flush()) is not None:
            apply_message(early, "delta", delta)
            if late is not None:
                apply_message(late, "delta", delta)
        if i == join_at:
            late = {}
            apply_message(late, "snapshot", feed.snapshot())
    if (delta := feed.flush()) is not None:
        apply_message(early, "delta", delta)
        if late is not None:
            apply_message(late, "delta", delta)
    assert early["tasks"] == truth
    if late is not None:
        assert late["tasks"] == truth


@given(
    st.lists(st.integers(min_value=0, max_value=40), min_size=1, max_size=4),
    st.integers(min_value=1, max_value=7),
)
def test_a_snapshot_encoded_in_pieces_is_the_one_piece_frame(sizes: list[int], rows: int) -> None:
    message = {
        "seq": 3,
        "revision": 9,
        "synced": True,
        "objects": {
            f"kind{k}": [{"name": f"o-{i}", "note": "é\n\"'"} for i in range(n)]
            for k, n in enumerate(sizes)
        },
    }
    pieces = list(sse_pieces("snapshot", message, rows=rows))
    assert b"".join(pieces) == sse_frame("snapshot", message)


def test_a_flush_with_a_limit_sends_the_oldest_changes_and_keeps_the_rest() -> None:
    feed = Feed()
    state: dict[str, dict[str, Any]] = {}
    for i in range(25):
        feed.apply("tasks", f"t-{i}", {"name": f"t-{i}"}, revision=100 + i)
    sizes = []
    while (delta := feed.flush(revision=200, limit=10)) is not None:
        sizes.append(len(delta["changes"]))
        apply_message(state, "delta", delta)
        assert delta["revision"] == (200 if feed.pending == 0 else 0)
    assert sizes == [10, 10, 5]
    assert state["tasks"] == feed.state()["tasks"]
