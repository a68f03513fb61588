"""The o2 error tree. Pure: every layer raises these; nothing here does I/O.

    O2Error                          root of everything o2 raises on purpose
    ├── ValidationError              a document or value breaks the API (file, document, field path)
    ├── NotFoundError                the named object does not exist
    ├── AlreadyExistsError           create of a name that is taken
    ├── ConflictError                a compare-and-swap lost: the object changed since it was read
    ├── FieldConflictError           an apply would overwrite fields another writer set (paths)
    ├── FencedError                  a write by a leader that no longer holds its lease
    ├── UnreadableObjectError        a stored value is not valid JSON or fails validation
    ├── CompactedError               a watch asked for a revision etcd has compacted: relist
    ├── StoreUnavailableError        etcd cannot be reached (after retries)
    │   └── PermissionDeniedError    etcd refused: the etcd user's role lacks that key range
    ├── TemplateError                a `{{ }}` expression failed (role path, expression)
    ├── SourceError                  a GitSource could not be fetched or read (no credentials)
    ├── PluginError                  an integration plugin call failed (plugin function, why)
    ├── ConfigError                  a config payload does not parse or render (config, line)
    │   └── ConfigNotFoundError      no ComponentConfig matches a lookup (says what was sought)
    ├── MesosError                   talking to Mesos failed
    │   ├── MesosUnavailableError    not subscribed / no master or agent reachable right now
    │   └── MesosCallError           a call was refused (HTTP status and body)
    └── ReconcileError               raised by reconcilers to steer retries
        ├── TemporaryError(delay)    retry after `delay` seconds
        └── PermanentError           do not retry until the object changes

User-facing messages name the object, the field path and what to do.
"""

from __future__ import annotations

from dataclasses import dataclass


class O2Error(Exception):
    """Root of every error o2 raises on purpose."""


@dataclass(frozen=True)
class FieldError:
    """One problem in one document: where it is and what is wrong."""

    path: str
    message: str
    source: str = ""
    document: int | None = None
    kind: str = ""
    name: str = ""

    def render(self) -> str:
        where = []
        if self.source:
            where.append(self.source)
        if self.document is not None:
            where.append(f"document {self.document}")
        if self.kind or self.name:
            where.append(f"{self.kind or '?'}/{self.name or '?'}")
        prefix = ": ".join(where)
        field = f"{self.path}: " if self.path else ""
        return f"{prefix}: {field}{self.message}" if prefix else f"{field}{self.message}"


class ValidationError(O2Error):
    """A document or value does not satisfy the API; carries every problem found."""

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors
        super().__init__("; ".join(e.render() for e in errors) or "invalid")


class NotFoundError(O2Error):
    def __init__(self, kind: str, name: str) -> None:
        self.kind = kind
        self.name = name
        super().__init__(f"{kind.lower()}/{name} not found")


class AlreadyExistsError(O2Error):
    def __init__(self, kind: str, name: str) -> None:
        self.kind = kind
        self.name = name
        super().__init__(f"{kind.lower()}/{name} already exists")


class ConflictError(O2Error):
    """The object changed since it was read; re-read it and try again."""

    def __init__(self, kind: str, name: str, *, expected: int | None = None) -> None:
        self.kind = kind
        self.name = name
        self.expected = expected
        super().__init__(
            f"{kind.lower()}/{name} was modified (expected resourceVersion {expected}); "
            "re-read it and retry"
        )


class FieldConflictError(O2Error):
    """An apply names fields whose live values another writer set (crds.ownership)."""

    def __init__(self, kind: str, name: str, paths: tuple[str, ...], *, manager: str) -> None:
        self.kind = kind
        self.name = name
        self.paths = paths
        listed = ", ".join(paths)
        super().__init__(
            f"{kind.lower()}/{name}: {listed} changed since {manager} last applied it (by "
            "another writer: o2 start/stop/recover/set, the GUI, another apply); leave the "
            "field out of the manifest to keep their value, or apply with --force-conflicts "
            "to take it"
        )


class FencedError(O2Error):
    """A leader-fenced write was rejected: this process no longer holds the leader lease."""

    def __init__(self, lease_key: str) -> None:
        self.lease_key = lease_key
        super().__init__(f"write rejected: leadership of {lease_key} was lost")


class UnreadableObjectError(O2Error):
    """A value under a registry key is not a valid resource (written by someone else?)."""

    def __init__(self, key: str, reason: str) -> None:
        self.key = key
        self.reason = reason
        super().__init__(f"unreadable object at {key}: {reason}")


class CompactedError(O2Error):
    """The requested watch revision is compacted: the caller must relist."""

    def __init__(self, revision: int, compact_revision: int = 0) -> None:
        self.revision = revision
        self.compact_revision = compact_revision
        super().__init__(
            f"revision {revision} is compacted (compacted up to {compact_revision}); relist needed"
        )


class StoreUnavailableError(O2Error):
    """etcd could not be reached; the message says which endpoints were tried."""


class PermissionDeniedError(StoreUnavailableError):
    """etcd refused a request: the etcd user's roles do not cover that key range. A subclass of
    StoreUnavailableError, so code that waits out an unusable etcd keeps doing so."""


class TemplateError(O2Error):
    def __init__(self, path: str, expression: str, reason: str) -> None:
        self.path = path
        self.expression = expression
        self.reason = reason
        super().__init__(f"{path}: cannot evaluate {expression!r}: {reason}")


class SourceError(O2Error):
    """Fetching or reading a GitSource failed; the message never carries URL credentials."""


class PluginError(O2Error):
    """An integration plugin function (`func:` hook) failed; the message says which and why."""


class ConfigError(O2Error):
    """A configuration payload failed to parse or render; names the config and the line."""

    def __init__(self, config: str, reason: str, *, line: int | None = None) -> None:
        self.config = config
        self.reason = reason
        self.line = line
        where = f"{config} line {line}" if line is not None else config
        super().__init__(f"{where}: {reason}")


class ConfigNotFoundError(ConfigError):
    """No ComponentConfig matches `lookup` (component/runType/role/entry), even with fallbacks."""

    def __init__(self, lookup: str, reason: str) -> None:
        self.lookup = lookup
        super().__init__(lookup, reason)


class ReconcileError(O2Error):
    """Raised by a reconciler to say whether and when to retry."""


class TemporaryError(ReconcileError):
    def __init__(self, message: str, *, delay: float = 5.0) -> None:
        self.delay = delay
        super().__init__(message)


class PermanentError(ReconcileError):
    """Do not retry: the object must change before a retry can succeed."""


class MesosError(O2Error):
    """Talking to a Mesos master or agent failed."""


class MesosUnavailableError(MesosError):
    """No subscribed connection right now; the client is reconnecting: retry later."""


class MesosCallError(MesosError):
    """A master or agent refused a call (4xx/5xx); `status` and `body` say why."""

    def __init__(self, call: str, *, status: int, body: str) -> None:
        self.call = call
        self.status = status
        self.body = body
        super().__init__(f"Mesos refused {call}: HTTP {status} {body.strip()[:200]}")
