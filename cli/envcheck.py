"""Checks of Environments against the Workflows they name, before anything is written (`o2
apply`, `o2 create env`): user values of public variables must fit their declarations
(crds.publicvars). The environment controller checks the same at expansion, for Environments
written by other clients."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from crds.errors import FieldError, NotFoundError, ValidationError
from crds.kinds.environment import Environment
from crds.kinds.workflow import Workflow
from crds.publicvars import check_values
from crds.resource import Resource
from store.api import Store


async def workflow_of(
    store: Store, env: Environment, *, pending: Mapping[str, Workflow]
) -> Workflow | None:
    """The Workflow `env` names: one applied along with it, else the stored one, else None."""
    name = env.spec.workflow
    if name in pending:
        return pending[name]
    try:
        return await store.get(Workflow, name)
    except NotFoundError:
        return None


async def check_environments(store: Store, objs: Sequence[Resource]) -> None:
    """ValidationError listing every public-variable value of every Environment in `objs` that
    its Workflow refuses (an Environment whose Workflow exists nowhere yet is left to the
    controller, which reports it)."""
    pending = {o.name: o for o in objs if isinstance(o, Workflow)}
    errors: list[FieldError] = []
    for obj in objs:
        if not isinstance(obj, Environment):
            continue
        workflow = await workflow_of(store, obj, pending=pending)
        if workflow is not None:
            errors.extend(check_values(workflow, obj.spec.vars, name=obj.name))
    if errors:
        raise ValidationError(errors)
