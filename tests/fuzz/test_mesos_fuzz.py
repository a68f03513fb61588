"""Fuzzing the Mesos RecordIO framing and the JSON event/message decoders."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from crds.errors import ValidationError
from mesosapi import executor, o2messages, scheduler
from mesosapi.recordio import RecordIODecoder, decode_events, encode
from tests.fuzz.harness import bounded, fuzz

pytestmark = pytest.mark.fuzz

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
records = st.dictionaries(st.text(max_size=10), json_values, max_size=5)


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(points)]


def feed_all(chunks: list[bytes]) -> tuple[list[dict[str, Any]], ValueError | None]:
    """Records decoded before the first error, and that error (a ValueError naming RecordIO)."""
    decoder = RecordIODecoder()
    out: list[dict[str, Any]] = []

    def run() -> None:
        for chunk in chunks:
            out.extend(decoder.feed(chunk))

    _, error = bounded(run, mebibytes=64)
    if error is not None:
        assert isinstance(error, ValueError), f"{type(error).__name__}: {error}"
        assert "RecordIO" in str(error)
    return out, error


@given(st.binary(max_size=2000), st.lists(st.integers(0, 2000), max_size=8))
@fuzz(300)
@example(data=b"100000\n" + b"[" * 100_000, cuts=[])
@example(data=b"3\n\xff\xfe\xfd", cuts=[])
@example(data=b"2\n[]", cuts=[])
@example(data=b"4\n1e99", cuts=[])
def test_random_byte_streams_give_records_or_a_recordio_error(data: bytes, cuts: list[int]) -> None:
    """`[` * 100000 raised RecursionError, not ValueError, before."""
    records_out, _ = feed_all(split(data, cuts))
    assert all(isinstance(r, dict) for r in records_out)


@given(st.lists(records, max_size=6), st.lists(st.integers(0, 5000), max_size=10))
@fuzz(100)
def test_valid_frames_split_anywhere_decode_to_the_same_records(
    sent: list[dict[str, Any]], cuts: list[int]
) -> None:
    stream = b"".join(encode(r) for r in sent)
    received, error = feed_all(split(stream, cuts))
    assert error is None
    assert received == json.loads(json.dumps(sent))


@given(st.lists(records, min_size=1, max_size=6), st.data())
@fuzz(80)
def test_a_truncated_stream_yields_a_prefix_and_waits(
    sent: list[dict[str, Any]], data: st.DataObject
) -> None:
    stream = b"".join(encode(r) for r in sent)
    end = data.draw(st.integers(0, len(stream) - 1))
    received, error = feed_all([stream[:end]])
    assert error is None
    assert received == json.loads(json.dumps(sent[: len(received)]))
    assert len(received) < len(sent)


@given(st.integers(0, 10**30), st.binary(max_size=100))
@fuzz(100)
@example(length=RecordIODecoder.MAX_RECORD, body=b"{")
@example(length=RecordIODecoder.MAX_RECORD + 1, body=b"")
@example(length=10**19, body=b"")
def test_huge_length_prefixes_allocate_nothing_up_front(length: int, body: bytes) -> None:
    """An announced length is only waited for: memory grows with bytes received, not promised."""
    decoder = RecordIODecoder()
    received, error = bounded(
        lambda: decoder.feed(str(length).encode() + b"\n" + body), mebibytes=16
    )
    if error is not None:
        assert isinstance(error, ValueError) and "RecordIO" in str(error)
    elif length > len(body):
        assert received == []


EventDecoder = Callable[[dict[str, Any]], object]


@given(
    st.sampled_from([scheduler.decode_event, executor.decode_event]),
    st.lists(records, max_size=4),
    st.sampled_from([*scheduler.EVENT_TYPES, *executor.EVENT_TYPES, "UNKNOWN"]),
)
@fuzz(120)
def test_random_event_records_are_decoded_or_skipped(
    decode: EventDecoder, sent: list[dict[str, Any]], kind: str
) -> None:
    """A malformed event is skipped (and logged); nothing else escapes decode_events."""
    stream = b"".join(encode({**r, "type": kind}) for r in sent)
    events, error = bounded(lambda: decode_events(RecordIODecoder(), stream, decode))
    assert error is None, f"{type(error).__name__}: {error}"
    assert events is not None and len(events) <= len(sent)


@given(
    st.sampled_from(
        [
            o2messages.decode_to_executor,
            o2messages.decode_to_controller,
            o2messages.decode_launch,
            o2messages.decode_status_data,
        ]
    ),
    st.binary(max_size=500) | records.map(lambda r: json.dumps(r).encode()),
)
@fuzz(150)
@example(decode=o2messages.decode_launch, data=b"[" * 100_000)
def test_o2_framework_messages_parse_or_raise_validation_error(
    decode: Callable[[bytes], object], data: bytes
) -> None:
    result, error = bounded(lambda: decode(data))
    if error is not None:
        assert isinstance(error, ValidationError), f"{type(error).__name__}: {error}"
        assert str(error)
    else:
        assert result is not None
