"""Store connection settings from flags or O2_* environment variables, and open_store(). No I/O
beyond connecting."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from store.api import DEFAULT_PREFIX
from store.etcd import Connection, EtcdStore

DEFAULT_ENDPOINT = "http://127.0.0.1:2379"


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


async def open_store(config: StoreConfig) -> EtcdStore:
    """An EtcdStore for `config`; connects lazily, so this never blocks on a dead etcd."""
    return EtcdStore(config.connection(), prefix=config.prefix)
