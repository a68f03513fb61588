"""Scheduler events decoded straight from their RecordIO text (UPDATE and MESSAGE, most of the
stream) are the events `decode_event` makes of the parsed record; every other record, and
every record not as expected, is left to `decode_event`, which decodes it or says what is wrong
as before (a malformed event is skipped, a record that is not JSON ends the stream)."""

from __future__ import annotations

import base64
import json
import logging
import uuid

import pytest

from mesosapi import recordio
from mesosapi import scheduler as sch
from mesosapi.models import AgentId, ExecutorId, FrameworkId, OfferId

STATUS = {
    "task_id": {"value": "env-1-readout-0001.0123456789"},
    "state": "TASK_RUNNING",
    "source": "SOURCE_EXECUTOR",
    "reason": "REASON_RECONCILIATION",
    "message": "Reconciliation: Latest task state",
    "agent_id": {"value": "m-S0"},
    "executor_id": {"value": "o2-executor"},
    "timestamp": 1700000000.25,
    "uuid": base64.b64encode(uuid.uuid4().bytes).decode(),
    "data": base64.b64encode(b'{"state":"STANDBY","pid":42}').decode(),
    "container_status": {"executor_pid": 1234},
    "unreachable_time": {"nanoseconds": 5},
}
RECORDS: list[dict[str, object]] = [
    {"type": "UPDATE", "update": {"status": STATUS}},
    {"type": "UPDATE", "update": {"status": {"task_id": {"value": "t"}, "state": "TASK_LOST"}}},
    {"type": "MESSAGE", "message": {"agent_id": {"value": "a"}, "executor_id": {"value": "e"}}},
    {
        "type": "MESSAGE",
        "message": {
            "agent_id": {"value": "a"},
            "executor_id": {"value": "e"},
            "data": base64.b64encode(b'{"type":"results"}').decode(),
        },
    },
    sch.encode_event(sch.Subscribed(framework_id=FrameworkId("f"), heartbeat_interval_seconds=15)),
    sch.encode_event(sch.Rescind(offer_id=OfferId("o"))),
    sch.encode_event(sch.Failure(agent_id=AgentId("a"), executor_id=ExecutorId("e"), status=9)),
    sch.encode_event(sch.Heartbeat()),
    {"type": "INVERSE_OFFERS", "inverse_offers": {}},
]


def texts(record: dict[str, object]) -> list[bytes]:
    """The record as Mesos writes it (compact) and as json.dumps does (spaced)."""
    return [json.dumps(record, separators=(",", ":")).encode(), json.dumps(record).encode()]


@pytest.mark.parametrize("record", RECORDS, ids=lambda r: str(r["type"]))
def test_an_event_decoded_from_its_text_is_the_one_decoded_from_its_record(
    record: dict[str, object],
) -> None:
    for body in texts(record):
        fast = sch.decode_event_text(body)
        if record["type"] in ("UPDATE", "MESSAGE"):
            assert fast is not None
        if fast is not None:
            assert fast == sch.decode_event(record)
            assert type(fast) is type(sch.decode_event(record))


def test_the_stream_decodes_to_the_same_events_either_way() -> None:
    stream = b"".join(recordio.encode(r) for r in RECORDS)
    slow = recordio.decode_events(recordio.RecordIODecoder(), stream, sch.decode_event)
    decoder = recordio.RecordIODecoder()
    fast = []
    for i in range(0, len(stream), 97):  # records split across chunks
        fast += recordio.decode_events(
            decoder, stream[i : i + 97], sch.decode_event, decode_text=sch.decode_event_text
        )
    assert fast == slow and len(fast) == len(RECORDS)


def test_a_malformed_update_is_skipped_and_the_stream_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bad = {"type": "UPDATE", "update": {"status": {"state": "TASK_RUNNING"}}}
    good = {"type": "UPDATE", "update": {"status": STATUS}}
    assert sch.decode_event_text(json.dumps(bad).encode()) is None
    stream = recordio.encode(bad) + recordio.encode(good)
    with caplog.at_level(logging.WARNING):
        events = recordio.decode_events(
            recordio.RecordIODecoder(), stream, sch.decode_event, decode_text=sch.decode_event_text
        )
    assert len(events) == 1 and isinstance(events[0], sch.Update)
    assert "Skipped malformed Mesos event" in caplog.text


@pytest.mark.parametrize("body", [b'{"type":"UPDATE",', b'["type"]', b'{"type":"UPDATE"} x'])
def test_a_record_that_is_not_a_json_object_still_ends_the_stream(body: bytes) -> None:
    stream = str(len(body)).encode() + b"\n" + body
    with pytest.raises(ValueError, match="RecordIO"):
        recordio.decode_events(
            recordio.RecordIODecoder(), stream, sch.decode_event, decode_text=sch.decode_event_text
        )


def test_the_last_type_of_a_record_with_two_decides_as_json_loads_does() -> None:
    body = b'{"type":"UPDATE","update":{"status":{"task_id":{"value":"t"},"state":"TASK_LOST"}}'
    body += b',"type":"HEARTBEAT"}'
    event = recordio.decode_events(
        recordio.RecordIODecoder(),
        str(len(body)).encode() + b"\n" + body,
        sch.decode_event,
        decode_text=sch.decode_event_text,
    )
    assert event == [sch.decode_event(json.loads(body))]
