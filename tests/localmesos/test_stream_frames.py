"""The local cluster's event-stream frames: byte for byte what mesosapi.recordio.encode writes
(one C encoder made once instead of json.dumps per event), for every kind of JSON value."""

from __future__ import annotations

import math
from typing import Any

import pytest

from localmesos import streams
from localmesos.streams import frame
from mesosapi.recordio import RecordIODecoder, encode

EVENTS: list[dict[str, Any]] = [
    {"type": "HEARTBEAT"},
    {
        "type": "UPDATE",
        "update": {
            "status": {
                "task_id": {"value": 'é"\\\x01\n\u2028\x7f/😀'},
                "state": "TASK_RUNNING",
                "timestamp": 1765123456.123456,
                "healthy": False,
                "unreachable_time": None,
                "data": "eHg=",
                "labels": {"labels": []},
            }
        },
    },
    {"type": "OFFERS", "offers": {"offers": [{"id": {"value": "o"}, "n": 2**70, "x": -0.0}]}},
    {"type": "ODD", "floats": [math.inf, -math.inf, 1e-300, 1.5e300], "nested": [[[{}]], []]},
]


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: str(e["type"]))
def test_a_frame_is_recordio_encode_byte_for_byte(event: dict[str, object]) -> None:
    assert frame(event) == encode(event)


def test_nan_is_written_as_json_dumps_writes_it() -> None:
    assert frame({"x": math.nan}) == encode({"x": math.nan}) == b'9\n{"x":NaN}'


def test_frames_decode_back_in_order() -> None:
    decoder = RecordIODecoder()
    data = b"".join(frame(e) for e in EVENTS if e["type"] != "ODD")
    assert decoder.feed(data[:7]) == []
    assert [r["type"] for r in decoder.feed(data[7:])] == ["HEARTBEAT", "UPDATE", "OFFERS"]


def test_without_the_c_encoder_the_frames_are_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(streams, "_chunks", None)
    for event in EVENTS:
        assert frame(event) == encode(event)
