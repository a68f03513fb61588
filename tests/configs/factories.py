"""Building ComponentConfigs for tests."""

from __future__ import annotations

from crds.kinds.componentconfig import ComponentConfig, ComponentConfigSpec
from crds.meta import ObjectMeta


def cc(
    name: str,
    *,
    component: str = "readout",
    entry: str = "main",
    run_type: str = "ANY",
    role: str = "any",
    data: str = "",
    fmt: str = "text",
) -> ComponentConfig:
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
    return ComponentConfig(metadata=ObjectMeta(name=name), spec=spec)
