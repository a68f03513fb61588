"""The wizard's presets in etcd (crds.presets): list, save (checked as the wizard checks a
form) and delete. Store I/O only (no HTTP here); the store must keep raw runtime keys.

A preset belongs to who saved it: others overwrite or delete it only when allowed to (admins),
so one shift's "TPC physics" is not silently replaced by the next."""

from __future__ import annotations

import logging
from typing import Protocol, runtime_checkable

from crds.errors import ConflictError, FieldError, NotFoundError, O2Error, ValidationError
from crds.kinds.workflow import Workflow
from crds.meta import utcnow
from crds.newenv import changed_values
from crds.presets import (
    MAX_VALUES,
    Preset,
    by_name,
    check_name,
    decode,
    encode,
    preset_key,
    presets_prefix,
)
from crds.publicvars import check_values
from store.api import RawValue, Store

CAS_ATTEMPTS = 5
"""Reads and compare-and-swaps of one save before giving up with ConflictError."""
log = logging.getLogger(__name__)


@runtime_checkable
class PresetKV(Protocol):
    """What presets need of a store (store.api.RuntimeKV and its prefix)."""

    prefix: str

    async def get_raw(self, key: str) -> RawValue | None: ...

    async def list_raw(self, prefix: str) -> dict[str, bytes]: ...

    async def put_raw(self, key: str, value: bytes, *, lease: int | None = None) -> int: ...

    async def create_raw(
        self, key: str, value: bytes, *, lease: int | None = None
    ) -> int | None: ...

    async def cas_raw(self, key: str, value: bytes, *, expected_mod_revision: int) -> bool: ...

    async def delete_raw(self, key: str) -> None: ...


class NoRawKeysError(NotFoundError):
    """The store keeps no raw keys (an in-memory store without runtime/): no presets."""

    def __init__(self) -> None:
        super().__init__("Preset", "*")


class NotYoursError(O2Error):
    """The preset was saved by someone else and the caller may not replace others' presets."""

    def __init__(self, workflow: str, name: str, saved_by: str) -> None:
        super().__init__(
            f"preset {name!r} of workflow {workflow!r} was saved by {saved_by or 'someone else'}: "
            "save yours under another name, or ask an admin to change or delete it"
        )


def _owned(raw: RawValue, ref: tuple[str, str], who: str) -> None:
    """NotYoursError when the preset stored in `raw` was not saved by `who`."""
    existing = decode(raw.value)
    saved_by = "" if existing is None else existing.saved_by
    if saved_by != who:
        raise NotYoursError(*ref, saved_by)


async def _check_owner(kv: PresetKV, key: str, ref: tuple[str, str], who: str) -> bool:
    """Whether the preset at `key` exists; NotYoursError when it does and `who` did not save it."""
    raw = await kv.get_raw(key)
    if raw is None:
        return False
    _owned(raw, ref, who)
    return True


async def _put_own(kv: PresetKV, key: str, value: bytes, ref: tuple[str, str], who: str) -> None:
    """Write `value` at `key` only while no one else's preset is there: created if absent,
    else compare-and-swap on the revision whose owner was checked, so a preset someone else
    saves in between is never overwritten (read again and checked again)."""
    for _ in range(CAS_ATTEMPTS):
        raw = await kv.get_raw(key)
        if raw is None:
            if await kv.create_raw(key, value) is not None:
                return
            continue
        _owned(raw, ref, who)
        if await kv.cas_raw(key, value, expected_mod_revision=raw.mod_revision):
            return
    raise ConflictError("Preset", f"{ref[0]}/{ref[1]}")


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
    store: Store, workflow_name: str, name: str, body: object, *, who: str, others: bool = False
) -> Preset:
    """Save (or overwrite) preset `name` of `workflow_name` from the wizard's values, checked
    against the Workflow's declarations as a new environment's would be. Overwriting a preset
    someone else saved needs `others` (NotYoursError otherwise, nothing written)."""
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
    key = preset_key(kv.prefix, workflow_name, name)
    if others:
        await kv.put_raw(key, encode(preset))
    else:
        await _put_own(kv, key, encode(preset), (workflow_name, name), who)
    log.info("GUI saved a preset", extra={"workflow": workflow_name, "preset": name, "who": who})
    return preset


async def delete_preset(
    store: Store, workflow: str, name: str, *, who: str, others: bool = False
) -> None:
    """Delete preset `name` of `workflow`; NotFoundError when there is none, NotYoursError when
    someone else saved it and not `others`."""
    kv = _kv(store)
    key = preset_key(kv.prefix, workflow, name)
    if others:
        if await kv.get_raw(key) is None:
            raise NotFoundError("Preset", f"{workflow}/{name}")
    elif not await _check_owner(kv, key, (workflow, name), who):
        raise NotFoundError("Preset", f"{workflow}/{name}")
    await kv.delete_raw(key)
    log.info("GUI deleted a preset", extra={"workflow": workflow, "preset": name, "who": who})
