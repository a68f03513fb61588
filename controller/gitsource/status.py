"""GitSource status and conditions from a sync's outcome. Pure: callers pass `now`.

Only what changed moves: lastSync and lastSyncTime advance when a sync wrote something, moved to
a new commit or answered an `o2 sync` request, so a no-op resync produces an equal status and
nothing is written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from controller.gitsource.plan import Plan
from controller.runtime.status import condition
from crds.kinds.gitsource import (
    DiffResult,
    GitSource,
    GitSourceStatus,
    HealthState,
    SyncSummary,
)
from crds.labels import DIFF_REQUESTED_AT, SYNC_REQUESTED_AT
from crds.meta import Condition

CONFLICT = "Conflict"


@dataclass(frozen=True)
class Outcome:
    """What acting on a plan did."""

    commit: str
    created: int = 0
    configured: int = 0
    pruned: int = 0
    unchanged: int = 0

    @property
    def wrote(self) -> bool:
        return bool(self.created or self.configured or self.pruned)

    def summary(self) -> SyncSummary:
        return SyncSummary(
            commit=self.commit,
            created=self.created,
            configured=self.configured,
            pruned=self.pruned,
            unchanged=self.unchanged,
        )

    def text(self) -> str:
        return (
            f"commit {self.commit[:12]}: {self.created} created, {self.configured} configured, "
            f"{self.pruned} pruned"
        )


def synced(
    old: GitSourceStatus,
    plan: Plan,
    outcome: Outcome,
    *,
    health: HealthState,
    request: str | None,
    now: datetime,
) -> tuple[GitSourceStatus, list[Condition]]:
    """Status after a sync that applied `outcome.commit`."""
    moved = outcome.wrote or outcome.commit != old.last_applied_commit
    answered = request is not None and request != old.last_handled_sync_request
    status = old.model_copy(
        update={
            "last_applied_commit": outcome.commit,
            "last_attempted_commit": outcome.commit,
            "last_sync_time": now if moved or answered else old.last_sync_time,
            "last_sync": outcome.summary() if moved or answered else old.last_sync,
            "sync": "OutOfSync" if plan.pending else "Synced",
            "health": health,
            "inventory": plan.inventory,
            "drift": tuple(d for d in plan.drift if d not in plan.healed),
            "pending": plan.pending,
            "message": _message(plan, outcome),
            "last_handled_sync_request": request or old.last_handled_sync_request,
        }
    )
    return status, _conditions(plan, synced=not plan.pending, health=health)


def _message(plan: Plan, outcome: Outcome) -> str:
    text = f"applied commit {outcome.commit[:12]}: {len(plan.inventory)} objects"
    if plan.conflicts:
        owned = ", ".join(f"{c.kind.lower()}/{c.name} ({c.message})" for c in plan.conflicts[:5])
        text += f"; not applied, owned elsewhere: {owned}"
    return text


def _conditions(plan: Plan, *, synced: bool, health: HealthState) -> list[Condition]:
    ready = synced and health == "Healthy"
    reason = "Synced" if synced else "OutOfSync"
    if synced and not ready:
        reason = health
    return [
        condition("Ready", ready, reason=reason, message=f"sync {reason}, health {health}"),
        condition("Reconciling", health == "Progressing", reason=health),
        condition("Stalled", False, reason="Synced"),
        conflict_condition(plan),
    ]


def conflict_condition(plan: Plan) -> Condition:
    if not plan.conflicts:
        return condition(CONFLICT, False, reason="NoConflict")
    owners = "; ".join(f"{c.kind.lower()}/{c.name} is {c.message}" for c in plan.conflicts)
    return condition(CONFLICT, True, reason="OwnedByAnotherSource", message=owners)


def failed(
    old: GitSourceStatus,
    *,
    reason: str,
    message: str,
    commit: str | None,
    request: str | None,
) -> tuple[GitSourceStatus, list[Condition]]:
    """Status after a fetch or validation failure: the last good commit stays applied."""
    status = old.model_copy(
        update={
            "last_attempted_commit": commit or old.last_attempted_commit,
            "sync": "OutOfSync",
            "message": message,
            "last_handled_sync_request": request or old.last_handled_sync_request,
        }
    )
    return status, [
        condition("Ready", False, reason=reason, message=message),
        condition("Reconciling", False, reason=reason),
        condition("Stalled", True, reason=reason, message=message),
    ]


def suspended(old: GitSourceStatus) -> tuple[GitSourceStatus, list[Condition]]:
    return old, [
        condition("Ready", False, reason="Suspended", message="spec.suspend is true"),
        condition("Reconciling", False, reason="Suspended"),
    ]


def diffed(old: GitSourceStatus, result: DiffResult) -> tuple[GitSourceStatus, list[Condition]]:
    """Status answering a diff request (nothing else changes)."""
    return old.model_copy(update={"last_diff": result}), []


def sync_request(gs: GitSource) -> str | None:
    """The `o2 sync` request not yet answered, if any."""
    value = gs.metadata.annotations.get(SYNC_REQUESTED_AT)
    return value if value and value != gs.status.last_handled_sync_request else None


def diff_request(gs: GitSource) -> str | None:
    """The `o2 diff gitsource` request not yet answered, if any."""
    value = gs.metadata.annotations.get(DIFF_REQUESTED_AT)
    done = gs.status.last_diff.request if gs.status.last_diff is not None else None
    return value if value and value != done else None


def conflict_message(conditions: Sequence[Condition]) -> str:
    for cond in conditions:
        if cond.type == "Conflict" and cond.status == "True":
            return cond.message
    return ""
