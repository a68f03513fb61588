"""Pilot controller settings, from the manager's options or `$O2_PILOT_*`. Pure parsing."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

CLASS_ANNOTATION = "o2.pilot/class"
"""On a Node: the TaskClass of its pilot, overriding the global `pilot_class`."""


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

    @classmethod
    def load(cls, options: Mapping[str, object], env: Mapping[str, str]) -> PilotSettings:
        def pick(name: str) -> str | None:
            value = options.get(f"pilot_{name}")
            if value is None or value == "":
                value = env.get(f"O2_PILOT_{name.upper()}")
            return None if value is None or value == "" else str(value)

        base = cls()
        return cls(
            pilot_class=pick("class") or base.pilot_class,
            cooldown=float(pick("cooldown") or base.cooldown),
            max_reclaiming=int(pick("max_reclaiming") or base.max_reclaiming),
            pending_age=float(pick("pending_age") or base.pending_age),
            reclaim=(pick("reclaim") or "on").lower() not in ("off", "false", "0", "no"),
            backoff_base=float(pick("backoff_base") or base.backoff_base),
            backoff_max=float(pick("backoff_max") or base.backoff_max),
            backoff_reset=float(pick("backoff_reset") or base.backoff_reset),
        )
