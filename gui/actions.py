"""GUI actions on an Environment: the same spec fields the CLI writes, plus an audit Event.

Store I/O only (no HTTP here): `perform()` changes `spec.state` (or bumps
`spec.recoverRequest` for recover) with compare-and-swap retries, then records who asked as an
Event on the environment, attached to an etcd lease so it expires like the controller's Events.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime

from crds.changedby import attributed
from crds.errors import ConflictError
from crds.kinds.environment import Environment, EnvironmentSpec
from crds.kinds.event import Event, EventSpec, ObjectReference
from crds.labels import CHANGED_BY
from crds.meta import ObjectMeta, utcnow
from crds.resource import Resource
from store.api import Store

log = logging.getLogger(__name__)

DESIRED_STATE: dict[str, str] = {
    "deploy": "DEPLOYED",
    "configure": "CONFIGURED",
    "start": "RUNNING",
    "stop": "CONFIGURED",
    "reset": "DEPLOYED",
    "exit": "DONE",
}
"""Action -> the spec.state it asks for (as `o2 deploy|configure|start|...` do)."""
ACTIONS: tuple[str, ...] = (*DESIRED_STATE, "recover")
NEEDS_CONFIRMATION: frozenset[str] = frozenset({"stop", "exit"})
EVENT_TTL = 3600
CAS_ATTEMPTS = 5
SOURCE = "o2-gui"


@dataclass(frozen=True)
class ActionResult:
    environment: Environment
    event: Event | None


def desired_spec(spec: EnvironmentSpec, action: str) -> EnvironmentSpec:
    """The spec after `action`. Pure."""
    if action == "recover":
        return spec.model_copy(update={"recover_request": spec.recover_request + 1})
    return spec.model_copy(update={"state": DESIRED_STATE[action]})


def action_event(
    env: Environment, *, action: str, who: str, now: datetime, detail: str | None = None
) -> Event:
    """The audit Event: `<env>-<hash>`, naming the token's owner (`detail`: what changed,
    else the state or recover request asked for). Pure."""
    if detail is None:
        detail = (
            f"recoverRequest={env.spec.recover_request}"
            if action == "recover"
            else f"spec.state={env.spec.state}"
        )
    return audit_event(
        env,
        action=action,
        who=who,
        now=now,
        message=f"{who} asked to {action.upper()} from the GUI ({detail})",
    )


def audit_event(obj: Resource, *, action: str, who: str, now: datetime, message: str) -> Event:
    """The audit Event of a user's action on `obj`: `<name>-<hash>`, naming who asked (also
    in the CHANGED_BY annotation, for the audit view's filter). Pure."""
    digest = hashlib.sha256(
        "\x00".join((obj.metadata.uid, action, who, now.isoformat())).encode()
    ).hexdigest()[:10]
    return Event(
        metadata=ObjectMeta(
            name=f"{obj.metadata.name[:52]}-{digest}", annotations={CHANGED_BY: who}
        ),
        spec=EventSpec(
            involved_object=ObjectReference(
                kind=obj.kind, name=obj.metadata.name, uid=obj.metadata.uid
            ),
            reason="UserAction",
            message=message,
            first_timestamp=now,
            last_timestamp=now,
            source=SOURCE,
        ),
    )


async def perform(store: Store, name: str, *, action: str, who: str) -> ActionResult:
    """Apply `action` to environment `name`; NotFoundError / ConflictError propagate."""
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    env = await _write_spec(store, name, action=action, who=who)
    log.info("GUI action", extra={"environment": name, "action": action, "who": who})
    event = await record_event(store, action_event(env, action=action, who=who, now=utcnow()))
    return ActionResult(env, event)


async def _write_spec(store: Store, name: str, *, action: str, who: str) -> Environment:
    for attempt in range(CAS_ATTEMPTS):
        env = await store.get(Environment, name)
        try:
            wanted = env.model_copy(update={"spec": desired_spec(env.spec, action)})
            return await store.update(attributed(env, wanted, who))
        except ConflictError:
            if attempt == CAS_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


async def record_event(store: Store, event: Event) -> Event | None:
    """Write the Event under a lease when the store offers leases; never fail the action."""
    try:
        grant = getattr(store, "grant_lease", None)
        lease = await grant(EVENT_TTL) if grant is not None else None
        return await store.create(event, lease=lease)
    except Exception:
        log.exception("Could not record the action Event", extra={"event": event.metadata.name})
        return None
