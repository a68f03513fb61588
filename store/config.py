"""Store connection settings from flags or O2_* environment variables, and open_store(). No I/O
beyond connecting and reading a password file."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from crds.errors import FieldError, ValidationError
from store.api import DEFAULT_PREFIX
from store.etcd import Connection, EtcdStore

DEFAULT_ENDPOINT = "http://127.0.0.1:2379"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoreConfig:
    """Where etcd is and how to authenticate. Flags win over the environment."""

    endpoints: tuple[str, ...] = (DEFAULT_ENDPOINT,)
    prefix: str = DEFAULT_PREFIX
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    username: str | None = None
    password: str | None = None
    timeout: float = 10.0
    retry_timeout: float = 15.0
    progress_interval: float = 5.0
    """An idle watch asks etcd for progress this often (informers time out at 3x)."""

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str] | None = None,
        *,
        etcd: str | None = None,
        prefix: str | None = None,
        ca_file: str | None = None,
        cert_file: str | None = None,
        key_file: str | None = None,
        username: str | None = None,
        password: str | None = None,
    ) -> StoreConfig:
        """Flags (keyword arguments) first, then O2_ETCD, O2_PREFIX, O2_ETCD_CACERT,
        O2_ETCD_CERT, O2_ETCD_KEY, O2_ETCD_USER, O2_ETCD_PASSWORD, then defaults."""
        env = os.environ if env is None else env
        endpoints = etcd or env.get("O2_ETCD") or DEFAULT_ENDPOINT
        return cls(
            endpoints=parse_endpoints(endpoints),
            prefix=(prefix or env.get("O2_PREFIX") or DEFAULT_PREFIX).rstrip("/") or "/",
            ca_file=ca_file or env.get("O2_ETCD_CACERT") or None,
            cert_file=cert_file or env.get("O2_ETCD_CERT") or None,
            key_file=key_file or env.get("O2_ETCD_KEY") or None,
            username=username or env.get("O2_ETCD_USER") or None,
            password=password or env.get("O2_ETCD_PASSWORD") or None,
        )

    def connection(self) -> Connection:
        return Connection(
            endpoints=self.endpoints,
            ca_file=self.ca_file,
            cert_file=self.cert_file,
            key_file=self.key_file,
            username=self.username,
            password=self.password,
            timeout=self.timeout,
            retry_timeout=self.retry_timeout,
            progress_interval=self.progress_interval,
        )


def parse_endpoints(text: str) -> tuple[str, ...]:
    """`a:2379,https://b:2379` -> full URLs; a bare host:port means http."""
    parts = [part.strip() for part in text.split(",")]
    return tuple(p if "://" in p else f"http://{p}" for p in parts if p)


def plaintext_credentials_warning(config: StoreConfig) -> str | None:
    """Why the etcd password would cross the network readable, or None. An endpoint without
    TLS is one whose scheme is not https while neither a CA bundle nor a client certificate is
    given (the same rule store.etcd.connection uses to choose a secure channel)."""
    if not (config.username and config.password) or config.ca_file or config.cert_file:
        return None
    plain = [e for e in config.endpoints if not e.startswith("https://")]
    if not plain:
        return None
    return (
        f"warning: the etcd password of user {config.username!r} is sent unencrypted to "
        f"{', '.join(plain)}: use https:// endpoints with a CA bundle (O2_ETCD_CACERT)"
    )


def default_warn(message: str) -> None:
    log.warning(message)


async def open_store(
    config: StoreConfig, *, warn: Callable[[str], None] = default_warn
) -> EtcdStore:
    """An EtcdStore for `config`; connects lazily, so this never blocks on a dead etcd. Says
    once, through `warn` (default: the log), when credentials would travel without TLS."""
    message = plaintext_credentials_warning(config)
    if message is not None:
        warn(message)
    return EtcdStore(config.connection(), prefix=config.prefix)


def read_private_file(path: Path, *, what: str) -> str:
    """The text of a file holding a secret (`what` names it), without its trailing newline.
    Refused when group or others may read or change it: anyone else on the machine could then
    take the secret. ValidationError names the file and what to do."""
    try:
        mode = path.stat().st_mode
        check_private_mode(mode, source=str(path), what=what)
        text = path.read_text().rstrip("\r\n")
    except OSError as exc:
        raise _file_error(str(path), "file", f"cannot read {what}: {exc.strerror}") from exc
    if not text:
        raise _file_error(str(path), "file", f"holds no {what}; write it on the first line")
    return text


def check_private_mode(mode: int, *, source: str, what: str) -> None:
    """A secret file anyone else can read hands the secret to them: refuse it."""
    if mode & 0o077:
        message = (
            f"mode {mode & 0o777:04o} lets group/others read or change the {what}; "
            f"run `chmod 600 {source}`"
        )
        raise _file_error(source, "mode", message)


def _file_error(source: str, path: str, message: str) -> ValidationError:
    return ValidationError([FieldError(path=path, message=message, source=source)])
