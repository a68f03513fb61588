"""ComponentConfig: a versioned configuration payload per component, run type and role. Pure.

History choice: explicit versions in `status` (not etcd revisions), because etcd compaction
would silently drop old revisions while a run must keep pointing at the payload it used. The
controller calls `record_version` when it observes a new `spec.data`; the last HISTORY_LIMIT
versions stay readable in `status.history`.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from pydantic import Field

from crds.meta import O2Model, Status
from crds.resource import KindInfo, PrinterColumn, Resource, register

HISTORY_LIMIT = 20
"""How many versions `status.history` keeps."""

ANY_RUN_TYPE = "ANY"
ANY_ROLE = "any"


class ComponentConfigSpec(O2Model):
    """One payload: `<component>/<runType>/<role>/<entry>`, with ANY/any as fallbacks."""

    component: str = Field(min_length=1)
    """The component it configures (readout, stfbuilder, qc, ...)."""
    run_type: str = Field(default=ANY_RUN_TYPE, min_length=1)
    """The run type it applies to, or ANY."""
    role: str = Field(default=ANY_ROLE, min_length=1)
    """The role (name or path) it applies to, or any."""
    entry: str = Field(default="main", min_length=1)
    """The entry name inside the component, e.g. `main`."""
    format: Literal["ini", "json", "yaml", "text"] = "text"
    """How `data` is parsed after rendering (checked at CONFIGURE)."""
    data: str = ""
    """The payload; may hold `{{ }}` placeholders resolved with the task's variables."""


class ConfigVersion(O2Model):
    """One recorded version of the payload."""

    version: int
    """Version number, from 1, increasing by one per payload change."""
    data: str
    """The payload of this version."""
    changed_at: datetime | None = None
    """When the controller first saw this payload."""
    generation: int = 0
    """The metadata.generation that carried this payload."""


class ComponentConfigStatus(Status):
    """Version bookkeeping kept by the controller."""

    version: int = 0
    """The current version (0 until the controller has seen the object)."""
    history: tuple[ConfigVersion, ...] = ()
    """The last HISTORY_LIMIT versions, oldest first, including the current one."""


class ComponentConfig(Resource):
    """A configuration payload in o2's configuration repository."""

    kind: Literal["ComponentConfig"] = "ComponentConfig"
    """Always ComponentConfig."""
    spec: ComponentConfigSpec
    """The payload and where it applies."""
    status: ComponentConfigStatus = Field(default_factory=ComponentConfigStatus)
    """Version bookkeeping (kept by the controller)."""

    KIND: ClassVar[str] = "ComponentConfig"

    @property
    def version_ref(self) -> str:
        """`name@version`, as Environment status records it."""
        return f"{self.metadata.name}@{self.status.version}"


def record_version(cc: ComponentConfig, *, now: datetime) -> ComponentConfigStatus:
    """The status after observing `cc.spec.data`: a new version when the payload changed."""
    status = cc.status
    if status.history and status.history[-1].data == cc.spec.data:
        return status.model_copy(update={"observed_generation": cc.metadata.generation})
    entry = ConfigVersion(
        version=status.version + 1,
        data=cc.spec.data,
        changed_at=now,
        generation=cc.metadata.generation,
    )
    return status.model_copy(
        update={
            "version": entry.version,
            "history": (*status.history, entry)[-HISTORY_LIMIT:],
            "observed_generation": cc.metadata.generation,
        }
    )


INFO = register(
    KindInfo(
        kind="ComponentConfig",
        plural="componentconfigs",
        singular="componentconfig",
        short_names=("cc",),
        model=ComponentConfig,
        columns=(
            PrinterColumn("NAME", lambda o: o.metadata.name),
            PrinterColumn("COMPONENT", lambda o: o.spec.component),
            PrinterColumn("RUN-TYPE", lambda o: o.spec.run_type),
            PrinterColumn("ROLE", lambda o: o.spec.role),
            PrinterColumn("ENTRY", lambda o: o.spec.entry),
            PrinterColumn("VERSION", lambda o: str(o.status.version)),
            PrinterColumn("FORMAT", lambda o: o.spec.format, wide_only=True),
        ),
    )
)
