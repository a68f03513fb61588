"""What the control ledger (controller.tasks.control) keys its requests by, cheaply: the id of
each ControlRequest and the properties digest of each CONFIGURE. Pure."""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from controller.tasks import status as st


class RequestIds:
    """ControlRequest ids: 32 hex digits, as a uuid4's, unique across controllers and terms (a
    random half) and within one (a counter): a uuid4 per MESSAGE read the OS's random source
    each time, ~20 us of a pass that sends thousands."""

    def __init__(self) -> None:
        self._prefix = uuid.uuid4().hex[:16]
        self._next = 0

    def next(self) -> str:
        self._next += 1
        return f"{self._prefix}{self._next:016x}"


class PropertiesDigests:
    """`st.properties_digest`, remembered by the properties themselves: the tasks of a role
    share them (one JSON dump and sha256 per distinct set, not one per task of a CONFIGURE of
    10,000). Bounded: forgotten all at once past `LIMIT` sets."""

    LIMIT = 4096

    def __init__(self) -> None:
        self._known: dict[tuple[tuple[str, str], ...], str] = {}

    def __call__(self, properties: Mapping[str, str]) -> str:
        key = tuple(properties.items())
        digest = self._known.get(key)
        if digest is None:
            if len(self._known) >= self.LIMIT:
                self._known.clear()
            digest = self._known[key] = st.properties_digest(properties)
        return digest
