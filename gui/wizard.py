"""The new-environment wizard's server side: what the form offers and the checked creation.

Store I/O only (no HTTP here). The offer lists the Workflows (public first, with the
GitSource and commit they came from) and the detector inventory; `create()` checks a form
the way `o2 create env` / `o2 apply` do (crds.newenv builds the Environment, crds.publicvars
checks the values), writes one Environment and an audit Event naming the user. Problems come
back per form field, so the page shows each next to its widget.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from crds.changedby import created_by
from crds.errors import FieldError, NotFoundError, ValidationError
from crds.kinds.environment import Environment
from crds.kinds.node import Node
from crds.kinds.workflow import Workflow
from crds.labels import COMMIT_ANNOTATION, SOURCE_LABEL
from crds.meta import utcnow
from crds.newenv import (
    Inventory,
    build_environment,
    changed_values,
    inventory,
    selection_values,
    workflow_value,
)
from crds.publicvars import check_values
from gui.actions import action_event, record_event
from store.api import Store

log = logging.getLogger(__name__)

WIZARD_STATES: tuple[str, ...] = ("STANDBY", "DEPLOYED", "CONFIGURED", "RUNNING")
_FIELDS = {"metadata.name": "name", "spec.workflow": "workflow", "spec.state": "state"}


@dataclass(frozen=True)
class Form:
    """What the page sends: every field's value; only changed ones are written."""

    name: str
    workflow: str
    values: dict[str, str]
    detectors: tuple[str, ...]
    state: str
    run_type: str = "NONE"

    @classmethod
    def parse(cls, body: object) -> Form:
        """The JSON body as a Form; ValidationError naming the field for a wrong shape."""
        if not isinstance(body, dict):
            raise _invalid("body", "send a JSON object")
        values = body.get("vars", {})
        detectors = body.get("detectors", [])
        if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
            raise _invalid("vars", "vars must map names to text values")
        if not isinstance(detectors, list) or not all(isinstance(d, str) for d in detectors):
            raise _invalid("detectors", "detectors must be a list of names")
        return cls(
            name=str(body.get("name", "")).strip(),
            workflow=str(body.get("workflow", "")),
            values={str(k): v for k, v in values.items()},
            detectors=tuple(detectors),
            state=str(body.get("state", "STANDBY")),
            run_type=str(body.get("runType", "NONE")),
        )


def field_errors(error: ValidationError) -> dict[str, str]:
    """Form field -> message (`spec.vars.X` is field `X`), for the page to show in place."""
    found: dict[str, str] = {}
    for e in error.errors:
        key = _FIELDS.get(e.path, e.path.removeprefix("spec.vars."))
        found.setdefault(key, e.message)
    return found


def workflow_offer(workflow: Workflow) -> dict[str, Any]:
    """A Workflow as the wizard shows it: declarations with their current values."""
    meta = workflow.metadata
    variables = {
        name: {
            **spec.model_dump(mode="json", by_alias=True),
            "value": workflow_value(workflow, name) or "",
        }
        for name, spec in workflow.spec.variables.items()
    }
    return {
        "name": workflow.name,
        "description": workflow.spec.description,
        "public": workflow.spec.public,
        "gitsource": meta.labels.get(SOURCE_LABEL, ""),
        "commit": meta.annotations.get(COMMIT_ANNOTATION, ""),
        "variables": variables,
    }


async def _inventory(store: Store) -> Inventory:
    nodes = (await store.list(Node)).items
    envs = (await store.list(Environment)).items
    return inventory(nodes, envs)


async def offer(store: Store) -> dict[str, Any]:
    """Workflows (public first, then by name), the detectors and the states to choose from."""
    workflows = sorted(
        (await store.list(Workflow)).items, key=lambda w: (not w.spec.public, w.name)
    )
    found = await _inventory(store)
    return {
        "workflows": [workflow_offer(w) for w in workflows],
        "detectors": [
            {"name": d.name, "hosts": list(d.hosts), "heldBy": d.held_by}
            for d in found.detectors.values()
        ],
        "states": list(WIZARD_STATES),
    }


async def checked_environment(store: Store, form: Form) -> Environment:
    """The Environment the form asks for, checked as `o2 create env` checks it."""
    try:
        workflow = await store.get(Workflow, form.workflow)
    except NotFoundError:
        raise _invalid("workflow", f"no Workflow {form.workflow!r}: choose one") from None
    if form.state not in WIZARD_STATES:
        raise _invalid("state", f"choose one of {', '.join(WIZARD_STATES)}")
    found = await _inventory(store)
    errors = [
        FieldError(path="detectors", message=_held(d, found))
        for d in form.detectors
        if d not in found.detectors or found.detectors[d].held_by
    ]
    values = changed_values(workflow, form.values)
    values.update(selection_values(workflow, form.detectors, found))
    errors.extend(check_values(workflow, values, name=form.name))
    if errors:
        raise ValidationError(errors)
    return build_environment(
        form.name,
        workflow=workflow.name,
        variables=values,
        state=form.state,
        run_type=form.run_type,
    )


def _held(name: str, found: Inventory) -> str:
    detector = found.detectors.get(name)
    if detector is None:
        return f"no node reads out detector {name!r}: choose one from the inventory"
    return f"detector {name!r} is held by environment {detector.held_by!r}"


async def create(store: Store, form: Form, *, who: str) -> tuple[Environment, str | None]:
    """Write the Environment and an audit Event naming `who`; ValidationError /
    AlreadyExistsError propagate and nothing is written."""
    env = await store.create(created_by(await checked_environment(store, form), who))
    log.info("GUI created an environment", extra={"environment": env.name, "who": who})
    event = await record_event(store, action_event(env, action="create", who=who, now=utcnow()))
    return env, None if event is None else event.metadata.name


def _invalid(field: str, message: str) -> ValidationError:
    return ValidationError([FieldError(path=field, message=message)])
