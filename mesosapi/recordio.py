"""RecordIO framing of Mesos event streams: `<length>\n<json bytes>` repeated. Pure."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any, TypeVar

import pydantic

log = logging.getLogger(__name__)

E = TypeVar("E")


def encode(record: dict[str, Any]) -> bytes:
    """One event as a RecordIO frame (length in bytes, newline, compact JSON)."""
    body = json.dumps(record, separators=(",", ":")).encode()
    return str(len(body)).encode() + b"\n" + body


class RecordIODecoder:
    """Incremental decoder: feed bytes as they arrive, get whole records back."""

    MAX_RECORD = 64 * 1024 * 1024

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, chunk: bytes) -> list[dict[str, Any]]:
        """The whole records `chunk` completes, as JSON objects."""
        return [_object(body) for body in self.bodies(chunk)]

    def bodies(self, chunk: bytes) -> list[bytes]:
        """The whole records `chunk` completes, as their JSON text (not parsed)."""
        self._buf.extend(chunk)
        out: list[bytes] = []
        while True:
            nl = self._buf.find(b"\n")
            if nl < 0:
                if len(self._buf) > 20:
                    raise ValueError("RecordIO: length prefix too long or missing newline")
                return out
            try:
                length = int(self._buf[:nl])
            except ValueError as exc:
                raise ValueError(f"RecordIO: bad length prefix {bytes(self._buf[:nl])!r}") from exc
            if length < 0 or length > self.MAX_RECORD:
                raise ValueError(f"RecordIO: record length {length} out of range")
            end = nl + 1 + length
            if len(self._buf) < end:
                return out
            out.append(bytes(self._buf[nl + 1 : end]))
            del self._buf[:end]


def _object(body: bytes) -> dict[str, Any]:
    record = _json(body)
    if not isinstance(record, dict):
        raise ValueError("RecordIO: record is not a JSON object")
    return record


def _json(body: bytes) -> object:
    """One record's JSON; a ValueError saying why (callers end the stream on ValueError)."""
    try:
        return json.loads(body)
    except RecursionError as exc:
        raise ValueError("RecordIO: record nested too deeply") from exc
    except ValueError as exc:
        raise ValueError(f"RecordIO: record is not JSON: {exc}") from exc


def decode_events(
    decoder: RecordIODecoder,
    chunk: bytes,
    decode: Callable[[dict[str, Any]], E],
    *,
    decode_text: Callable[[bytes], E | None] | None = None,
) -> list[E]:
    """The typed events in `chunk` (scheduler or executor API); a malformed event is logged and
    skipped, so one bad record does not end the subscription. `decode_text` may decode a
    record straight from its JSON text (None: it did not, `decode` does it from the parsed
    object): one pass of pydantic's parser instead of json.loads then a walk of the dicts."""
    events: list[E] = []
    for body in decoder.bodies(chunk):
        try:
            event = decode_text(body) if decode_text is not None else None
            events.append(decode(_object(body)) if event is None else event)
        except pydantic.ValidationError as exc:
            log.warning("Skipped malformed Mesos event", extra={"error": str(exc)})
    return events
