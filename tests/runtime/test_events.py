"""Event recorder on real etcd: repeats fold into one Event, Events carry an expiry lease."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from controller.events import EventRecorder, event_name
from controller.redact import MESSAGE_LIMIT, TRUNCATED, Redactor
from crds.kinds.event import Event, ObjectReference
from store.api import Store
from store.etcd import EtcdStore
from tests.runtime.gadget import gadget


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def recording(etcd_store: EtcdStore) -> AsyncIterator[tuple[EventRecorder, Clock]]:
    clock = Clock()
    recorder = EventRecorder(lambda: etcd_store, etcd_store, source="test", ttl=60, clock=clock)
    task = asyncio.create_task(recorder.run())
    try:
        yield recorder, clock
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_repeated_event_is_one_event_with_count_and_last_timestamp(
    etcd_store: EtcdStore, recording: tuple[EventRecorder, Clock]
) -> None:
    recorder, clock = recording
    obj = gadget("engine")
    first = clock.now
    for _ in range(3):
        recorder.event(obj, reason="Overheated", message="too hot", warning=True)
        await recorder.flush()
        clock.now += timedelta(seconds=5)
    recorder.event(obj, reason="Cooled", message="fine again")
    await recorder.flush()
    events = {e.spec.reason: e for e in (await etcd_store.list(Event)).items}
    assert set(events) == {"Overheated", "Cooled"}
    hot = events["Overheated"]
    assert (hot.spec.count, hot.spec.type) == (3, "Warning")
    assert hot.spec.first_timestamp == first
    assert hot.spec.last_timestamp == first + timedelta(seconds=10)
    assert hot.spec.involved_object.name == "engine"
    assert hot.metadata.name.startswith("engine-")
    assert events["Cooled"].spec.count == 1


async def test_events_expire_through_a_lease_of_about_the_ttl(
    etcd_store: EtcdStore, recording: tuple[EventRecorder, Clock]
) -> None:
    recorder, _ = recording
    recorder.event(gadget("pump"), reason="Started")
    await recorder.flush()
    (event,) = (await etcd_store.list(Event)).items
    raw = await etcd_store.get_raw(etcd_store.key_for(Event, event.metadata.name))
    assert raw is not None and raw.lease != 0
    remaining = await etcd_store.refresh_lease(raw.lease)
    assert 60 <= remaining <= 60 + recorder.bucket + 1


async def test_nothing_is_written_while_not_leading(etcd_store: EtcdStore) -> None:
    leading: list[Store] = []
    recorder = EventRecorder(lambda: leading[0] if leading else None, etcd_store, source="t")
    task = asyncio.create_task(recorder.run())
    try:
        recorder.event(gadget("valve"), reason="Opened")
        await recorder.flush()
        assert (await etcd_store.list(Event)).items == []
        leading.append(etcd_store)
        recorder.event(gadget("valve"), reason="Opened")
        await recorder.flush()
        assert len((await etcd_store.list(Event)).items) == 1
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def test_event_names_are_stable_dns_labels_per_object_reason_and_message() -> None:
    ref = ObjectReference(kind="Task", name="Very.Odd_Name" * 8, uid="u1")
    name = event_name(ref, type_="Normal", reason="Launched", message="m")
    assert name == event_name(ref, type_="Normal", reason="Launched", message="m")
    assert name != event_name(ref, type_="Normal", reason="Launched", message="other")
    assert len(name) <= 63 and name.replace("-", "").isalnum() and name == name.lower()


async def test_a_burst_of_repeats_is_folded_into_one_write(
    etcd_store: EtcdStore, recording: tuple[EventRecorder, Clock]
) -> None:
    recorder, clock = recording
    obj = gadget("spammy")
    for _ in range(50):
        recorder.event(obj, reason="Retrying", warning=True)
        clock.now += timedelta(seconds=1)
    await recorder.flush()
    (event,) = (await etcd_store.list(Event)).items
    assert event.spec.count == 50
    first = event.spec.first_timestamp
    assert first is not None and event.spec.last_timestamp == first + timedelta(seconds=49)
    assert recorder.written == 1


async def test_messages_are_redacted_and_capped_before_they_are_written(
    etcd_store: EtcdStore,
) -> None:
    redact = Redactor(["pw-very-secret"])
    recorder = EventRecorder(lambda: etcd_store, etcd_store, source="t", redact=redact)
    task = asyncio.create_task(recorder.run())
    try:
        recorder.event(gadget("engine"), reason="Said", message="the pw-very-secret is out")
        recorder.event(gadget("engine"), reason="Rambled", message="y" * 100_000)
        await recorder.flush()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    events = {e.spec.reason: e.spec.message for e in (await etcd_store.list(Event)).items}
    assert events["Said"] == "the *** is out"
    assert len(events["Rambled"]) == MESSAGE_LIMIT and events["Rambled"].endswith(TRUNCATED)
