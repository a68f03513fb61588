"""GitSource: manifests synced from a git repository or directory into etcd. Pure."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from pydantic import Field

from crds.duration import Duration
from crds.kinds.common import opt
from crds.meta import O2Model, Status
from crds.resource import KindInfo, PrinterColumn, Resource, register

SyncState = Literal["Synced", "OutOfSync", "Unknown"]
HealthState = Literal["Healthy", "Progressing", "Degraded", "Unknown"]


class GitSourceSpec(O2Model):
    """Where the manifests live and how to sync them."""

    url: str = Field(min_length=1)
    """A git URL (https://, ssh://, file://, git@host:path) or a local directory path."""
    ref: str = Field(default="main", min_length=1)
    """Branch, tag or commit to follow."""
    path: str = "."
    """Directory inside the repository holding the manifests (searched recursively)."""
    format: Literal["o2", "aliecs"] = "o2"
    """`o2`: o2 manifests (YAML/JSON with apiVersion and kind). `aliecs`: an AliECS
    workflow repository as it is (`workflows/*.yaml` become Workflows, `tasks/*.yaml`
    TaskClasses, `jit/` files are read on include), translated as `o2 convert aliecs` does."""
    interval: Duration = "1m"
    """How often to poll for new commits."""
    prune: bool = True
    """Delete objects that were applied from this source and are no longer in it."""
    suspend: bool = False
    """Stop syncing (the last applied state stays)."""
    self_heal: bool = True
    """Revert changes made in etcd to objects this source owns (drift)."""


class InventoryEntry(O2Model):
    """An object applied from the source."""

    kind: str
    """The applied object's kind."""
    name: str
    """The applied object's name."""


class DriftEntry(O2Model):
    """An object whose live spec differs from the source."""

    kind: str
    """The drifted object's kind."""
    name: str
    """The drifted object's name."""
    message: str = ""
    """What differs (e.g. the changed field paths)."""


ChangeAction = Literal["create", "configure", "prune", "conflict"]


class PendingChange(O2Model):
    """One change a sync would make (or could not make), as `o2 diff gitsource` prints it."""

    action: ChangeAction
    """create, configure, prune, or conflict (owned by another GitSource: left alone)."""
    kind: str
    """The object's kind."""
    name: str
    """The object's name."""
    paths: tuple[str, ...] = ()
    """Wire field paths that differ (`spec.state`, `metadata.labels.team`)."""
    message: str = ""
    """Why (e.g. the owning GitSource of a conflict)."""


class SyncSummary(O2Model):
    """What one sync did: the commit and how many objects it touched."""

    commit: str = ""
    """The commit that was applied."""
    created: int = 0
    """Objects created."""
    configured: int = 0
    """Objects updated (new commit, or drift restored)."""
    pruned: int = 0
    """Objects deleted (or Environments moved to DONE on their way out)."""
    unchanged: int = 0
    """Objects already equal to the source."""


class DiffResult(O2Model):
    """The answer to a diff request: what a sync of `commit` would change."""

    commit: str = ""
    """The commit compared with etcd."""
    request: str = ""
    """The `o2.dev/diff-requested-at` value this answers."""
    changes: tuple[PendingChange, ...] = ()
    """Every difference; empty when etcd already equals the commit."""
    error: str = ""
    """Why no diff could be computed (fetch failure, invalid manifests)."""


class GitSourceStatus(Status):
    """What the last sync did."""

    last_applied_commit: str | None = None
    """The commit whose manifests are applied."""
    last_attempted_commit: str | None = None
    """The commit of the last attempt (differs from lastAppliedCommit when it failed)."""
    last_sync_time: datetime | None = None
    """When the last sync finished."""
    sync: SyncState = "Unknown"
    """Synced when etcd matches the source, OutOfSync when it differs."""
    health: HealthState = "Unknown"
    """Aggregated health of the applied objects (kstatus)."""
    inventory: tuple[InventoryEntry, ...] = ()
    """Everything applied from this source; what prune compares against."""
    drift: tuple[DriftEntry, ...] = ()
    """Owned objects whose live spec differs from the source."""
    message: str = ""
    """The last error or a summary of the last sync."""
    last_sync: SyncSummary | None = None
    """Counts of the last sync that changed something or answered a request."""
    pending: tuple[PendingChange, ...] = ()
    """What stays different after the last sync: conflicts, unhealed drift, prunes under way."""
    last_handled_sync_request: str | None = None
    """The `o2.dev/sync-requested-at` annotation value the controller last answered."""
    last_diff: DiffResult | None = None
    """The answer to the last `o2.dev/diff-requested-at` request (`o2 diff gitsource`)."""


class GitSource(Resource):
    """A source of manifests kept in sync with etcd."""

    kind: Literal["GitSource"] = "GitSource"
    """Always GitSource."""
    spec: GitSourceSpec
    """Where the manifests live and how to sync them."""
    status: GitSourceStatus = Field(default_factory=GitSourceStatus)
    """What the last sync did."""

    KIND: ClassVar[str] = "GitSource"


def _short(commit: str | None) -> str:
    return opt(commit)[:12]


INFO = register(
    KindInfo(
        kind="GitSource",
        plural="gitsources",
        singular="gitsource",
        short_names=("gs",),
        model=GitSource,
        columns=(
            PrinterColumn("NAME", lambda o: o.metadata.name),
            PrinterColumn("URL", lambda o: o.spec.url),
            PrinterColumn("REF", lambda o: o.spec.ref),
            PrinterColumn("COMMIT", lambda o: _short(o.status.last_applied_commit)),
            PrinterColumn("SYNC", lambda o: o.status.sync),
            PrinterColumn("HEALTH", lambda o: o.status.health),
            PrinterColumn("PATH", lambda o: o.spec.path, wide_only=True),
            PrinterColumn("SUSPENDED", lambda o: str(o.spec.suspend).lower(), wide_only=True),
            PrinterColumn("MESSAGE", lambda o: o.status.message, wide_only=True),
        ),
    )
)
