"""What an o2 executor's update says about its process (mesosapi.o2messages TaskStatusData in
TaskStatus.data): OCC state, pid, exit code, signal. Pure."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import ValidationError as PydanticValidationError

from mesosapi.o2messages import TaskStatusData, encode

OCC_STATES = ("STANDBY", "CONFIGURED", "RUNNING", "ERROR", "DONE")


@dataclass(frozen=True)
class ProcessFacts:
    """What an executor update's data says about the process."""

    pid: int | None = None
    occ_state: str | None = None
    exit_code: int | None = None
    signal: int | None = None


def parse_facts(data: bytes | None) -> ProcessFacts:
    """The executor's TaskStatusData from TaskStatus.data; empty facts for anything unreadable."""
    if not data:
        return ProcessFacts()
    try:
        doc = TaskStatusData.model_validate_json(data)
    except PydanticValidationError:
        return ProcessFacts()
    return ProcessFacts(
        pid=doc.pid,
        occ_state=doc.state if doc.state in OCC_STATES else None,
        exit_code=doc.exit_code,
        signal=doc.signal,
    )


def encode_facts(facts: ProcessFacts) -> bytes:
    """The TaskStatusData an o2 executor sends (used by hollow responders and tests)."""
    data = TaskStatusData(
        state=facts.occ_state or "", pid=facts.pid, exit_code=facts.exit_code, signal=facts.signal
    )
    return encode(data)
