"""The wizard's presets in etcd (crds.presets): list, save (checked as the wizard checks a
form) and delete. Store I/O only (no HTTP here); the store must keep raw runtime keys."""

from __future__ import annotations

import logging
from typing import Protocol, runtime_checkable

from crds.errors import FieldError, NotFoundError, ValidationError
from crds.kinds.workflow import Workflow
from crds.meta import utcnow
from crds.newenv import changed_values
from crds.presets import (
    MAX_VALUES,
    Preset,
    by_name,
    check_name,
    encode,
    preset_key,
    presets_prefix,
)
from crds.publicvars import check_values
from store.api import RawValue, Store

log = logging.getLogger(__name__)


@runtime_checkable
class PresetKV(Protocol):
    """What presets need of a store (store.api.RuntimeKV and its prefix)."""

    prefix: str

    async def get_raw(self, key: str) -> RawValue | None: ...

    async def list_raw(self, prefix: str) -> dict[str, bytes]: ...

    async def put_raw(self, key: str, value: bytes, *, lease: int | None = None) -> int: ...

    async def delete_raw(self, key: str) -> None: ...


class NoRawKeysError(NotFoundError):
    """The store keeps no raw keys (an in-memory store without runtime/): no presets."""

    def __init__(self) -> None:
        super().__init__("Preset", "*")


def _kv(store: Store) -> PresetKV:
    if not isinstance(store, PresetKV):
        raise NoRawKeysError
    return store


async def list_presets(store: Store, workflow: str) -> list[Preset]:
    """The presets saved for `workflow`, by name."""
    kv = _kv(store)
    return by_name(await kv.list_raw(presets_prefix(kv.prefix, workflow)))


def _values(body: object) -> tuple[dict[str, str], tuple[str, ...]]:
    """The body's `vars` and `detectors`; ValidationError naming the field otherwise."""
    values = body.get("vars", {}) if isinstance(body, dict) else None
    detectors = body.get("detectors", []) if isinstance(body, dict) else None
    if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
        raise ValidationError([FieldError(path="vars", message="map names to text values")])
    if len(values) > MAX_VALUES:
        message = f"a preset holds at most {MAX_VALUES} values"
        raise ValidationError([FieldError(path="vars", message=message)])
    if not isinstance(detectors, list) or not all(isinstance(d, str) for d in detectors):
        raise ValidationError([FieldError(path="detectors", message="give a list of names")])
    return {str(k): v for k, v in values.items()}, tuple(detectors)


async def save_preset(
    store: Store, workflow_name: str, name: str, body: object, *, who: str
) -> Preset:
    """Save (or overwrite) preset `name` of `workflow_name` from the wizard's values, checked
    against the Workflow's declarations as a new environment's would be."""
    kv = _kv(store)
    check_name(name)
    values, detectors = _values(body)
    try:
        workflow = await store.get(Workflow, workflow_name)
    except NotFoundError:
        message = f"no Workflow {workflow_name!r}: choose one"
        raise ValidationError([FieldError(path="workflow", message=message)]) from None
    errors = check_values(workflow, changed_values(workflow, values), kind="Preset", name=name)
    if errors:
        raise ValidationError(errors)
    preset = Preset(
        name=name,
        workflow=workflow_name,
        values=values,
        detectors=detectors,
        saved_by=who,
        saved_at=utcnow(),
    )
    await kv.put_raw(preset_key(kv.prefix, workflow_name, name), encode(preset))
    log.info("GUI saved a preset", extra={"workflow": workflow_name, "preset": name, "who": who})
    return preset


async def delete_preset(store: Store, workflow: str, name: str, *, who: str) -> None:
    """Delete preset `name` of `workflow`; NotFoundError when there is none."""
    kv = _kv(store)
    key = preset_key(kv.prefix, workflow, name)
    if await kv.get_raw(key) is None:
        raise NotFoundError("Preset", f"{workflow}/{name}")
    await kv.delete_raw(key)
    log.info("GUI deleted a preset", extra={"workflow": workflow, "preset": name, "who": who})
