"""Global CLI options (etcd endpoints, prefix, TLS, auth, verbosity). Pure data, no I/O."""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass, field

DEFAULT_ETCD = "http://127.0.0.1:2379"
DEFAULT_PREFIX = "/o2"

ENV_VARS = {
    "etcd": "O2_ETCD",
    "prefix": "O2_PREFIX",
    "cacert": "O2_ETCD_CACERT",
    "cert": "O2_ETCD_CERT",
    "key": "O2_ETCD_KEY",
    "user": "O2_ETCD_USER",
    "password": "O2_ETCD_PASSWORD",
}


@dataclass(frozen=True)
class GlobalOptions:
    """What the root callback collected; every command reads it from `ctx.obj`."""

    etcd: str = DEFAULT_ETCD
    prefix: str = DEFAULT_PREFIX
    cacert: str | None = None
    cert: str | None = None
    key: str | None = None
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    verbose: int = 0

    @property
    def endpoints(self) -> list[str]:
        return [e.strip() for e in self.etcd.split(",") if e.strip()]

    def child_env(self) -> dict[str, str]:
        """The same connection settings as O2_* variables, for subprocesses we start."""
        values = {
            "etcd": self.etcd,
            "prefix": self.prefix,
            "cacert": self.cacert,
            "cert": self.cert,
            "key": self.key,
            "user": self.user,
            "password": self.password,
        }
        return {ENV_VARS[k]: v for k, v in values.items() if v}


def options_from_env() -> GlobalOptions:
    """The global options when none is given on the command line: each from its O2_* variable,
    an empty one counting as unset (as the root command reads them), else its default."""
    values = {name: os.environ.get(var) or None for name, var in ENV_VARS.items()}
    return GlobalOptions(
        etcd=values["etcd"] or DEFAULT_ETCD,
        prefix=values["prefix"] or DEFAULT_PREFIX,
        cacert=values["cacert"],
        cert=values["cert"],
        key=values["key"],
        user=values["user"],
        password=values["password"],
    )


class StderrHandler(logging.Handler):
    """Writes to whatever `sys.stderr` is at the time (test runners swap it)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
        except Exception:  # logging must never break a command
            self.handleError(record)


def setup_logging(verbose: int) -> None:
    """Quiet by default (errors reach people as messages); -v: INFO, -vv: DEBUG. Logs go to
    stderr so stdout stays machine-clean. Idempotent; the root logger's level is only lowered
    when asked (-v), so running commands in-process leaves other logging setups alone."""
    level = logging.ERROR
    if verbose == 1:
        level = logging.INFO
    elif verbose >= 2:
        level = logging.DEBUG
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, StderrHandler)]:
        root.removeHandler(old)
    handler = StderrHandler(level)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    if verbose and root.level > level:
        root.setLevel(level)
