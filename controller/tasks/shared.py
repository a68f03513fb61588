"""Who the parts of one task framework call: its config, the Mesos link, the roster, the status
writer, the Event sink, the executor they launch with and the control loop's wake-up. Wiring
only: each part keeps its own state (controller.tasks.base lists the parts)."""

from __future__ import annotations

from dataclasses import dataclass

from controller.runtime.reconciler import EventSink
from controller.tasks.base import FrameworkConfig, Link, Wake
from controller.tasks.roster import Roster
from controller.tasks.writer import StatusWriter
from mesosapi.models import ExecutorInfo


@dataclass(frozen=True)
class Shared:
    """Handed by the coordinator to every part it wires."""

    config: FrameworkConfig
    link: Link
    roster: Roster
    writer: StatusWriter
    events: EventSink
    executor: ExecutorInfo
    wake: Wake
