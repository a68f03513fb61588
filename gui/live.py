"""Live changes of an environment from its page: what may be changed, the preview diff, and
the one compare-and-swap write. Store I/O only (no HTTP here).

The page previews a change (the server computes the unified diff of the spec from the
environment at some resourceVersion), the user confirms, and the write is one update with
exactly that resourceVersion: if anyone wrote the environment in between, nothing is written
and the page shows the change again for review. Values are checked as `o2 apply` / `o2 set`
check them (crds.livechange, crds.publicvars); the write gets an audit Event naming the user.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from crds.errors import ConflictError, FieldError, NotFoundError, ValidationError
from crds.kinds.environment import Environment
from crds.kinds.node import Node
from crds.kinds.workflow import Workflow
from crds.livechange import (
    RECONFIGURE,
    LiveChange,
    changed_environment,
    current_detectors,
    scalable_roles,
    spec_diff,
)
from crds.meta import utcnow
from crds.newenv import inventory, workflow_value
from crds.publicvars import check_values
from gui.actions import action_event, record_event
from store.api import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Preview:
    """The environment as read, as it would be after the change, the diff and warnings."""

    before: Environment
    after: Environment
    warnings: tuple[str, ...]

    @property
    def diff(self) -> str:
        return spec_diff(self.before, self.after)

    def as_json(self) -> dict[str, Any]:
        return {
            "environment": self.before.name,
            # the version read (a preview) or written (after the write): the next CAS's
            "resourceVersion": self.after.metadata.resource_version,
            "diff": self.diff,
            "changed": bool(self.diff),
            "warnings": list(self.warnings),
        }


async def _workflow(store: Store, env: Environment) -> Workflow | None:
    try:
        return await store.get(Workflow, env.spec.workflow)
    except NotFoundError:
        return None


async def live_offer(store: Store, name: str) -> dict[str, Any]:
    """What the page may change: detectors (and who holds the others), the public variables
    with their current values, the scalable roles, and the resourceVersion read."""
    env = await store.get(Environment, name)
    workflow = await _workflow(store, env)
    found = inventory((await store.list(Node)).items, (await store.list(Environment)).items)
    declared = workflow.spec.variables if workflow else {}
    variables = {
        key: {
            **spec.model_dump(mode="json", by_alias=True),
            "value": env.spec.vars.get(key, (workflow_value(workflow, key) if workflow else None))
            or "",
        }
        for key, spec in declared.items()
    }
    roles = scalable_roles(workflow) if workflow else []
    return {
        "environment": name,
        "resourceVersion": env.metadata.resource_version,
        "state": env.status.state,
        "reconfigure": env.spec.reconfigure,
        "reconfigureChoices": list(RECONFIGURE),
        "detectors": current_detectors(env, workflow),
        "inventory": [{"name": d.name, "heldBy": d.held_by} for d in found.detectors.values()],
        "variables": variables,
        "scalable": [
            {
                "role": r.path,
                "variable": r.variable,
                "replicas": env.spec.vars.get(r.variable, workflow_value(workflow, r.variable))
                if workflow
                else None,
            }
            for r in roles
        ],
    }


async def checked_preview(store: Store, env: Environment, change: LiveChange) -> Preview:
    """The change applied to `env`, checked; ValidationError naming the field otherwise."""
    workflow = await _workflow(store, env)
    after, warnings = changed_environment(env, change, workflow=workflow)
    errors: list[FieldError] = []
    if change.detectors is not None and change.detectors.add:
        found = inventory((await store.list(Node)).items, (await store.list(Environment)).items)
        for name in change.detectors.add:
            detector = found.detectors.get(name)
            if detector is not None and detector.held_by not in ("", env.name):
                message = f"detector {name!r} is held by environment {detector.held_by!r}"
                errors.append(FieldError(path="detectors", message=message))
    if workflow is not None:
        errors.extend(check_values(workflow, after.spec.vars, name=env.name))
    if errors:
        raise ValidationError(errors)
    return Preview(env, after, tuple(warnings))


async def preview(store: Store, name: str, change: LiveChange) -> Preview:
    """The diff `change` would write now (nothing is written)."""
    return await checked_preview(store, await store.get(Environment, name), change)


def summary(change: LiveChange) -> str:
    """What the audit Event says was changed."""
    if change.detectors is not None:
        edit = change.detectors
        text = " ".join([*(f"+{d}" for d in edit.add), *(f"-{d}" for d in edit.remove)])
        text = f"detectors {text}"
    elif change.scale is not None:
        text = f"role {change.scale[0]} to {change.scale[1]} replicas"
    else:
        parts = [f"{k}={v}" for k, v in change.assign.items()] + [f"{k}-" for k in change.remove]
        text = f"vars {' '.join(parts)}"
    return text + (f", reconfigure {change.reconfigure}" if change.reconfigure else "")


async def apply(
    store: Store, name: str, change: LiveChange, *, resource_version: int, who: str
) -> tuple[Preview, str | None]:
    """Write `change` in one update at `resource_version` (the preview's): ConflictError when
    the environment changed since, ValidationError when refused, and nothing is written."""
    env = await store.get(Environment, name)
    if env.metadata.resource_version != resource_version:
        raise ConflictError("Environment", name, expected=resource_version)
    checked = await checked_preview(store, env, change)
    if not checked.diff:
        return checked, None
    written = await store.update(checked.after)
    log.info("GUI changed an environment", extra={"environment": name, "who": who})
    event = action_event(written, action="change", who=who, now=utcnow(), detail=summary(change))
    recorded = await record_event(store, event)
    return Preview(env, written, checked.warnings), recorded.metadata.name if recorded else None
