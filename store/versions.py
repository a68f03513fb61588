"""What o2 records about the versions it runs: this package's version, and the record a
leading controller manager keeps in etcd so that `o2 version` can name it. No client imports:
the key and the encoding here; writing and reading go through store.api.RuntimeKV.

`<prefix>/runtime/managers/<manager>` holds JSON `{identity, version, python, since}`, written
by the manager that holds `<prefix>/leases/<manager>` when its leadership term begins, on the
same etcd lease as the leader key: it goes when that leadership goes.
"""

from __future__ import annotations

import json
import platform
from dataclasses import asdict, dataclass

PACKAGE = "o2-control"
DEFAULT_MANAGER = "controller-manager"
"""The lease name of the controller manager group `o2 controller` runs by default."""
MANAGER_RECORDS = "runtime/managers"


def package_version() -> str:
    """The installed o2-control version ("unknown" when run from a tree never installed)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(PACKAGE)
    except PackageNotFoundError:
        return "unknown"


def python_version() -> str:
    return f"{platform.python_implementation()} {platform.python_version()}"


def manager_record_key(prefix: str, manager: str) -> str:
    return f"{prefix}/{MANAGER_RECORDS}/{manager}"


@dataclass(frozen=True)
class ManagerRecord:
    """Who leads a controller manager group, running which o2 and Python, since when."""

    identity: str
    version: str
    python: str
    since: str
    """When its leadership term began (ISO 8601, UTC)."""

    def to_bytes(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True).encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> ManagerRecord | None:
        """The record, or None when the value is not one (written by something else)."""
        try:
            data = json.loads(raw)
            return cls(**{k: str(data[k]) for k in ("identity", "version", "python", "since")})
        except (ValueError, TypeError, KeyError):
            return None
