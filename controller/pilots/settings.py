"""The pilot controller's settings (`--pilot-*` / `$O2_PILOT_*`, see controller.settings). Pure."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PilotSettings:
    pilot_class: str = "pilot"
    """The TaskClass (with `pilot: true`) every async node runs, unless annotated otherwise."""
    cooldown: float = 300.0
    """Seconds a reclaimed node stays sync after its environment stopped needing it."""
    max_reclaiming: int = 1
    """How many nodes may be draining for reclaim at once."""
    pending_age: float = 2.0
    """Seconds a task must have been unschedulable before it may reclaim a node."""
    reclaim: bool = True
    """Automatic reclaim at all (per environment still `spec.reclaim: Auto`)."""
    backoff_base: float = 10.0
    """Seconds to wait before restarting a pilot that ended by itself; doubles with each pilot
    that ends in a row (0 turns the back-off off: restart at once)."""
    backoff_max: float = 300.0
    """The longest wait between two pilots."""
    backoff_reset: float = 600.0
    """Seconds a pilot must have run for its node's back-off to start again from `backoff_base`."""
