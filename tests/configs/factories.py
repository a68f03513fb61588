"""Building ComponentConfigs for tests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from crds.kinds.componentconfig import ComponentConfig, ComponentConfigSpec, record_version
from crds.meta import ObjectMeta

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def cc(
    name: str,
    *,
    component: str = "readout",
    entry: str = "main",
    run_type: str = "ANY",
    role: str = "any",
    data: str = "",
    fmt: str = "text",
    recorded: bool = False,
) -> ComponentConfig:
    """A config; `recorded`: as the controller leaves it once it has recorded the payload."""
    spec = ComponentConfigSpec.model_validate(
        {
            "component": component,
            "entry": entry,
            "runType": run_type,
            "role": role,
            "format": fmt,
            "data": data,
        }
    )
    obj = ComponentConfig(metadata=ObjectMeta(name=name), spec=spec)
    return record(obj) if recorded else obj


def record(obj: ComponentConfig) -> ComponentConfig:
    """What the controller does on seeing the object: record its payload as a version."""
    return obj.model_copy(update={"status": record_version(obj, now=NOW)})


def edit(obj: ComponentConfig, data: str) -> ComponentConfig:
    return obj.model_copy(update={"spec": obj.spec.model_copy(update={"data": data})})


def version_is(version: int) -> Callable[[ComponentConfig | None], bool]:
    """A predicate for wait_for: the controller has recorded `version`."""
    return lambda o: o is not None and o.status.version == version
