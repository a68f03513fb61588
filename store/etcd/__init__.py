"""The etcd adapter: the only package that imports aetcd (and grpc for TLS).

- aetcd_internals: every override of aetcd's private internals (TLS client, watcher fixes),
  pinned to one aetcd release and checked by tests/store/test_aetcd_pin.py.
- connection: endpoints, TLS, auth, timeouts; closing a client within bounds.
- auth: etcd's Auth service (roles, users, enabling auth) for `o2 etcd-auth`.
- convert: store.kv types <-> etcd protobuf messages; grpc errors -> crds.errors.
- watches: opening and cancelling watches safely under asyncio cancellation.
- backend: EtcdKV (failover, retries, watch resume) and EtcdStore.
"""

from store.etcd.backend import EtcdKV, EtcdStore
from store.etcd.connection import Connection

__all__ = ["Connection", "EtcdKV", "EtcdStore"]
