"""The resource envelope (apiVersion/kind/metadata/spec/status) and the kind registry. Pure."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from pydantic import Field

from crds.kindnames import KIND_MODULES
from crds.meta import API_VERSION, O2Model, ObjectMeta, Status


class Resource(O2Model):
    """Every o2 object. Subclasses narrow `kind`, `spec` and `status`."""

    api_version: str = Field(default=API_VERSION, pattern=r"^o2/v1alpha1$")
    kind: str
    metadata: ObjectMeta
    spec: O2Model
    status: Status = Field(default_factory=Status)

    KIND: ClassVar[str] = ""

    @property
    def name(self) -> str:
        return self.metadata.name

    @property
    def ref(self) -> str:
        """`kind/name` as the CLI prints it."""
        return f"{self.kind.lower()}/{self.metadata.name}"

    def spec_applied_onto(self, current: Resource) -> O2Model:
        """The spec an apply of this manifest writes over `current`: the manifest's own, except
        for fields the kind says are owned by other writers (e.g. counters that only grow)."""
        del current
        return self.spec

    def to_wire(self) -> dict[str, Any]:
        """The JSON document as users and external watchers see it (camelCase, no nulls)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


R = TypeVar("R", bound=Resource)


@dataclass(frozen=True)
class PrinterColumn:
    """A column of `o2 get KIND`: header, and a pure function of the object to its cell."""

    header: str
    value: Callable[[Any], str]
    wide_only: bool = False


@dataclass(frozen=True)
class KindInfo:
    kind: str
    plural: str
    singular: str
    short_names: tuple[str, ...]
    model: type[Resource]
    columns: tuple[PrinterColumn, ...] = ()
    has_status: bool = True
    aliases: tuple[str, ...] = field(default=())

    def names(self) -> tuple[str, ...]:
        return (self.kind.lower(), self.plural, self.singular, *self.short_names, *self.aliases)


APPLY_ORDER: tuple[str, ...] = (
    "TaskClass",
    "Workflow",
    "ComponentConfig",
    "GitSource",
    "Node",
    "Environment",
    "Task",
    "Event",
)
"""Dependencies first: what an Environment refers to exists before it. `o2 apply` and GitOps
apply in this order and delete or prune in reverse."""


def apply_rank(kind: str) -> int:
    """Position of `kind` in APPLY_ORDER (unknown kinds last)."""
    return APPLY_ORDER.index(kind) if kind in APPLY_ORDER else len(APPLY_ORDER)


_KINDS: dict[str, KindInfo] = {}


def register(info: KindInfo) -> KindInfo:
    """Add a kind to the registry (done once per kind module at import)."""
    _KINDS[info.kind] = info
    return info


_IMPORTED: set[str] = set()
"""The kind modules `_import_kinds` has imported in this process."""


def _import_kinds() -> None:
    """Import every kind module, once per process: `import_module` of a loaded module still
    costs microseconds, and a test-only kind's `info_of` asks on every registry key."""
    if len(_IMPORTED) == len(KIND_MODULES):
        return
    for module in KIND_MODULES:
        importlib.import_module(module)
        _IMPORTED.add(module)


def all_kinds() -> list[KindInfo]:
    """Every kind, in `KIND_MODULES` order (templates, live objects, infrastructure, events)."""
    _import_kinds()
    order = {module: i for i, module in enumerate(KIND_MODULES)}
    return sorted(_KINDS.values(), key=lambda info: order.get(info.model.__module__, len(order)))


def info_of(model: type[Resource]) -> KindInfo | None:
    """The registered KindInfo of a model class, or None (a test-only kind). A model's module
    registers its kind when it is imported, so the kinds registered so far are searched first:
    importing every kind (and building all their models) to find one costs ~0.3 s; once all
    are imported, a kind not registered (a test-only kind) is known not to be, at no import."""
    found = _registered(model)
    if found is not None or len(_IMPORTED) == len(KIND_MODULES):
        return found  # every kind module imported: not a registered kind
    _import_kinds()
    return _registered(model)


def _registered(model: type[Resource]) -> KindInfo | None:
    for info in list(_KINDS.values()):
        if info.model is model:
            return info
    return None


def _registered_with(wanted: str) -> list[KindInfo]:
    """The kinds registered so far, after importing the module `wanted` names (if known)."""
    for module, names in KIND_MODULES.items():
        if wanted in names:
            importlib.import_module(module)
    return list(_KINDS.values())


def kind_info(name: str) -> KindInfo:
    """Resolve `Environment`, `environments`, `environment`, `env`, ... to its KindInfo."""
    wanted = name.strip().lower()
    for info in _registered_with(wanted):
        if wanted in info.names():
            return info
    for info in all_kinds():
        if wanted in info.names():
            return info
    known = ", ".join(sorted(i.plural for i in all_kinds()))
    from crds.errors import NotFoundError

    raise NotFoundError("kind", f"{name} (known kinds: {known})")
