"""The etcd adapter: the only package that imports aetcd (and grpc for TLS).

- connection: endpoints, TLS, auth, timeouts; aetcd's client with a secure channel.
- convert: store.kv types <-> etcd protobuf messages; grpc errors -> crds.errors.
- backend: EtcdKV (failover, retries, watch resume) and EtcdStore.
"""

from store.etcd.backend import EtcdKV, EtcdStore
from store.etcd.connection import Connection

__all__ = ["Connection", "EtcdKV", "EtcdStore"]
