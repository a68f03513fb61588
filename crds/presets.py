"""Wizard presets: named sets of a Workflow's variable values and detectors, kept in etcd. Pure.

A preset ("TPC physics") is a small JSON record under
`<prefix>/runtime/gui/presets/<workflow>/<preset name>`, beside the run log, not a new kind:
nothing reconciles it, it has no status, and it is only ever read whole by the wizard, so a
raw key is all it needs (and `etcdctl get --prefix .../runtime/gui/presets/` shows them all).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime

from pydantic import Field
from pydantic import ValidationError as PydanticError

from crds.errors import FieldError, ValidationError
from crds.meta import O2Model

PRESETS = "gui/presets"
"""The presets' place under `<prefix>/runtime/`."""
MAX_NAME = 64
MAX_VALUES = 500
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._()+-]*$")


class Preset(O2Model):
    """The wizard's values for one Workflow, saved under a name."""

    name: str
    """What the wizard lists ("TPC physics")."""
    workflow: str
    """The Workflow the values are for."""
    values: dict[str, str] = Field(default_factory=dict)
    """Variable -> text value, as the wizard holds them."""
    detectors: tuple[str, ...] = ()
    """The detectors picked."""
    saved_by: str = ""
    """Who saved it."""
    saved_at: datetime | None = None
    """When."""


def check_name(name: str) -> None:
    """ValidationError (field `name`) for a name that cannot be a preset's."""
    if len(name) > MAX_NAME or not _NAME.match(name) or name != name.strip():
        message = (
            f"a preset name is 1-{MAX_NAME} letters, digits, spaces and ._()+- "
            "starting with a letter or digit"
        )
        raise ValidationError([FieldError(path="name", message=message)])


def presets_prefix(prefix: str, workflow: str) -> str:
    """Every preset of `workflow` lives under this key prefix."""
    return f"{prefix.rstrip('/')}/runtime/{PRESETS}/{workflow}/"


def preset_key(prefix: str, workflow: str, name: str) -> str:
    """`<prefix>/runtime/gui/presets/<workflow>/<name>`."""
    return presets_prefix(prefix, workflow) + name


def encode(preset: Preset) -> bytes:
    return preset.model_dump_json(by_alias=True, exclude_none=True).encode()


def decode(raw: bytes) -> Preset | None:
    """The preset in `raw`, or None when it is not one (skipped, never fatal)."""
    try:
        return Preset.model_validate(json.loads(raw))
    except (ValueError, PydanticError):
        return None


def by_name(raw: Mapping[str, bytes]) -> list[Preset]:
    """The readable presets of `raw` (key -> value), sorted by name."""
    found = [p for p in map(decode, raw.values()) if p is not None]
    return sorted(found, key=lambda p: p.name.lower())


def as_json(preset: Preset) -> dict[str, object]:
    return preset.model_dump(mode="json", by_alias=True, exclude_none=True)
