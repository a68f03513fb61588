"""A test-only kind for the store tests (the real kinds live in crds.kinds)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from crds.meta import O2Model, Status
from crds.resource import Resource


class WidgetSpec(O2Model):
    size: int = 1
    color: str = "red"


class WidgetStatus(Status):
    phase: str = ""


class Widget(Resource):
    KIND: ClassVar[str] = "Widget"
    kind: Literal["Widget"] = "Widget"
    spec: WidgetSpec = Field(default_factory=WidgetSpec)
    status: WidgetStatus = Field(default_factory=WidgetStatus)


def widget(
    name: str,
    *,
    size: int = 1,
    labels: dict[str, str] | None = None,
    finalizers: tuple[str, ...] = (),
) -> Widget:
    return Widget.model_validate(
        {
            "metadata": {"name": name, "labels": labels or {}, "finalizers": list(finalizers)},
            "spec": {"size": size},
        }
    )


def resized(obj: Widget, size: int) -> Widget:
    """`obj` with its spec's size set (a caller's spec change)."""
    return obj.model_copy(update={"spec": obj.spec.model_copy(update={"size": size})})
