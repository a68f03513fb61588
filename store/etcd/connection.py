"""How o2 reaches etcd: endpoints, TLS, auth and timeouts, and closing a client within bounds.

The aetcd client itself (with grpc's secure channel) is in store.etcd.aetcd_internals.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any

import grpc

from store.etcd.aetcd_internals import Client

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Connection:
    """How to reach etcd (StoreConfig resolves flags and environment into this)."""

    endpoints: tuple[str, ...]
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    username: str | None = None
    password: str | None = None
    timeout: float = 10.0
    retry_timeout: float = 15.0
    progress_interval: float = 5.0
    """How often an idle watch asks etcd for a progress notification (a sign of life)."""


def read_file(path: str | None) -> bytes | None:
    if path is None:
        return None
    with open(path, "rb") as handle:
        return handle.read()


def credentials(conn: Connection, scheme: str) -> Any:
    if scheme != "https" and not conn.ca_file and not conn.cert_file:
        return None
    return grpc.ssl_channel_credentials(
        root_certificates=read_file(conn.ca_file),
        private_key=read_file(conn.key_file),
        certificate_chain=read_file(conn.cert_file),
    )


CLOSE_TIMEOUT = 2.0
"""Seconds a client gets to close: aetcd's close waits on its watch stream's lock and request
queue with no deadline, which a stream broken by a dead etcd may never release."""


async def close_quietly(client: Client) -> None:
    try:
        async with asyncio.timeout(CLOSE_TIMEOUT):
            await client.close()
    except TimeoutError:  # the watch stream is stuck: close the channel under it directly
        log.warning("Closing an etcd client timed out", extra={"timeout": CLOSE_TIMEOUT})
        channel = getattr(client, "channel", None)
        if channel is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(CLOSE_TIMEOUT):
                    await channel.close()
    except Exception as exc:  # closing a broken channel may fail; nothing to recover
        log.debug("closing etcd client failed", extra={"error": str(exc)})
