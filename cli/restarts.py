"""When `o2 up` restarts a child that died: back-off and a crash-loop limit. Pure."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RestartPolicy:
    """Exponential back-off from `first_delay`, capped at `max_delay`; more than `limit`
    crashes of one child within `window` seconds is a crash loop: `o2 up` gives up."""

    first_delay: float = 0.5
    """Short enough that a killed controller is back (and adopting its tasks) within a second."""
    max_delay: float = 30.0
    window: float = 120.0
    limit: int = 5


@dataclass
class Restarts:
    """Crash history per child name and the decision for the next restart."""

    policy: RestartPolicy = field(default_factory=RestartPolicy)
    crashes: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def after_exit(self, name: str, now: float) -> float | None:
        """The delay before restarting `name`, which died at `now` (monotonic seconds), or
        None when it is crash-looping (more than `limit` crashes within `window`)."""
        recent = [t for t in self.crashes[name] if now - t < self.policy.window]
        recent.append(now)
        self.crashes[name] = recent
        if len(recent) > self.policy.limit:
            return None
        self.counts[name] += 1
        delay: float = self.policy.first_delay * 2.0 ** (len(recent) - 1)
        return min(delay, self.policy.max_delay)

    def recent(self, name: str) -> int:
        """Crashes of `name` within the window, as last recorded."""
        return len(self.crashes[name])

    def total(self) -> int:
        return sum(self.counts.values())

    def describe(self) -> str:
        """`controller 2, gui 1` (empty when nothing was restarted)."""
        return ", ".join(f"{name} {n}" for name, n in sorted(self.counts.items()) if n)
