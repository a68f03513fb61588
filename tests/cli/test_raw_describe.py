"""`o2 describe env` drawn from the stored JSON (cli.rawdescribe) prints what the full path
prints, byte for byte: metadata, vars, transition, role tree, channels, history, conditions and
Events; an Environment, Task or Event it cannot vouch for, a missing NAME or another kind leave
it to the full path, having printed nothing."""

from __future__ import annotations

import json
import typing
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cli.rawdescribe import CHANNEL_TYPES, CONDITION_STATUSES, EVENT_TYPES, RESULTS
from cli.tableout import NOW_ENV
from crds.kinds.channels import BindChannel, ConnectChannel
from crds.kinds.environment import Environment, TransitionRecord
from crds.kinds.event import Event, EventSpec, ObjectReference
from crds.meta import Condition, ObjectMeta
from hack.bench.store_bench import make_task
from store import codec
from tests.cli.conftest import O2
from tests.cli.edit_helpers import stored, with_samples
from tests.cli.test_raw_get import put, raw

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def as_stored(obj: Any) -> dict[str, Any]:
    return typing.cast("dict[str, Any]", json.loads(codec.encode(obj)))


def busy_environment(o2: O2, name: str) -> dict[str, Any]:
    doc = stored(o2, "environments", "physics-1")["doc"]
    doc["metadata"].update(name=name, labels={"team": "tpc"}, finalizers=["o2.dev/tasks"])
    doc["status"].update(
        state="RUNNING",
        runNumber=7,
        lastRunNumber=6,
        taskCounts={"RUNNING": 1, "ERROR": 1},
        taskTotal=2,
        roles=[{"path": "flp-00000"}, {"path": "flp-00000.readout"}, {"path": "spare"}],
        transition={"event": "STOP_ACTIVITY", "step": "tasks", "startedAt": "2026-01-02T03:00:00Z"},
    )
    env = Environment.model_validate(doc)
    history = (
        TransitionRecord(
            event="START_ACTIVITY",
            from_state="CONFIGURED",
            to_state="RUNNING",
            started_at=NOW - timedelta(minutes=5),
            finished_at=NOW - timedelta(minutes=4),
            duration_seconds=61.25,
            run_number=7,
        ),
        TransitionRecord(
            event="CONFIGURE",
            from_state="DEPLOYED",
            to_state="CONFIGURED",
            result="Failed",
            message="a hook failed",
        ),
    )
    ready = Condition(
        type="Ready",
        status="False",
        reason="Stopping",
        message="stopping",
        last_transition_time=NOW,
    )
    status = env.status.model_copy(update={"history": history, "conditions": (ready,)})
    return as_stored(
        Environment.model_validate(as_stored(env.model_copy(update={"status": status})))
    )


def tasks(env: str) -> list[dict[str, Any]]:
    first, second = make_task(0), make_task(1)
    out = BindChannel(name="out", type="push", global_="readout-out")
    into = ConnectChannel(name="in", type="pull", target="flp-00000.readout:out")
    first = first.model_copy(
        update={"spec": first.spec.model_copy(update={"environment": env, "bind": (out,)})}
    )
    spec = second.spec.model_copy(
        update={"environment": env, "role": "flp-00000.qc", "critical": False, "connect": (into,)}
    )
    status = second.status.model_copy(update={"state": "ERROR", "message": "crashed", "pid": None})
    second = second.model_copy(update={"spec": spec, "status": status})
    return [as_stored(codec.prepare_create(t, now=NOW)) for t in (first, second)]


def event(name: str, about: str, *, uid: str, kind: str = "Environment", count: int = 1) -> Event:
    spec = EventSpec(
        involved_object=ObjectReference(kind=kind, name=about, uid=uid),
        type="Warning",
        reason="Stopping",
        message=f"{name} happened",
        count=count,
        first_timestamp=NOW - timedelta(minutes=count),
        last_timestamp=NOW - timedelta(seconds=count),
        source="environment-controller",
    )
    return Event(metadata=ObjectMeta(name=name), spec=spec)


def seed(o2: O2) -> None:
    with_samples(o2)
    for name in ("physics-1", "physics-2"):
        doc = busy_environment(o2, name)
        put(o2, "environments", name, doc)
        for task in tasks(name):
            task["metadata"]["name"] = f"{name}-{task['metadata']['name']}"
            put(o2, "tasks", task["metadata"]["name"], task)
    uid = stored(o2, "environments", "physics-1")["doc"]["metadata"]["uid"]
    for e in (
        event("e1", "physics-1", uid=uid, count=3),
        event("e2", "physics-1", uid=uid),
        event("e3", "physics-1", uid="another-uid"),
        event("e4", "physics-1", uid=uid, kind="Task"),
    ):
        put(o2, "events", e.metadata.name, as_stored(codec.prepare_create(e, now=NOW)))


SHOWN = (
    "team=tpc",
    "STOP_ACTIVITY at step tasks",
    "(non-critical)",
    "crashed",
    "flp-00000.readout:out",
    "61.2s",
    "a hook failed",
    "Stopping",
    "(x3 over",
)
"""What the seeded objects make the view show (the comparison covers every part)."""
PINNED_AGE = "(x3 over 3m)"
"""Event e1 (first seen 3 minutes before NOW) as seen at the pinned NOW, not the wall clock."""


@pytest.mark.parametrize(
    "argv",
    [["describe", "env", "physics-1"], ["describe", "environments", "physics-2", "physics-1"]],
    ids=" ".join,
)
def test_the_raw_view_prints_what_the_full_path_prints(
    o2: O2, argv: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(o2)
    for name, value in o2.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv(NOW_ENV, NOW.isoformat())  # both paths' AGEs from one pinned instant
    fast = raw(argv, capsys)
    full = o2(*argv)
    assert fast == (full.exit_code, full.stdout, full.stderr), (full.stdout, fast)
    for shown in (*SHOWN, PINNED_AGE):
        assert shown in full.stdout, shown


def spoil(o2: O2, how: str) -> None:
    if how == "a task":
        doc = stored(o2, "tasks", "physics-2-physics-1-flp-00000-readout")["doc"]
        doc["status"]["phase"] = "Dancing"
        put(o2, "tasks", doc["metadata"]["name"], doc)
    elif how == "an event":
        doc = stored(o2, "events", "e2")["doc"]
        doc["spec"]["count"] = 0
        put(o2, "events", "e2", doc)
    elif how == "the environment":
        doc = stored(o2, "environments", "physics-1")["doc"]
        doc["status"]["history"][0]["result"] = "Maybe"
        put(o2, "environments", "physics-1", doc)


@pytest.mark.parametrize("how", ["a task", "an event", "the environment"])
def test_a_document_the_raw_view_cannot_vouch_for_goes_to_the_full_path(
    o2: O2, how: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(o2)
    spoil(o2, how)
    for name, value in o2.env.items():
        monkeypatch.setenv(name, value)
    assert raw(["describe", "env", "physics-1"], capsys) is None


@pytest.mark.parametrize(
    "argv",
    [
        ["describe", "env", "missing"],
        ["describe", "env", "physics-1", "missing"],
        ["describe", "tc", "readout"],
        ["describe", "task", "physics-1-flp-00000-readout"],
    ],
    ids=" ".join,
)
def test_what_the_raw_view_does_not_serve_goes_to_the_full_path(
    o2: O2, argv: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(o2)
    for name, value in o2.env.items():
        monkeypatch.setenv(name, value)
    assert raw(argv, capsys) is None


def test_the_raw_enums_are_the_models_enums() -> None:
    from crds.kinds.channels import ChannelType

    assert typing.get_args(EventSpec.model_fields["type"].annotation) == EVENT_TYPES
    assert typing.get_args(Condition.model_fields["status"].annotation) == CONDITION_STATUSES
    assert typing.get_args(TransitionRecord.model_fields["result"].annotation) == RESULTS
    assert typing.get_args(typing.get_args(ChannelType)[0]) == CHANNEL_TYPES
