"""Between store.kv's plain types and etcd's protobuf messages and aetcd's errors. Pure."""

from __future__ import annotations

from typing import Any

import aetcd.utils
import grpc
from aetcd import rpc

from crds.errors import CompactedError, NotFoundError, O2Error, StoreUnavailableError
from store.kv import KV, Compare, Delete, KVEvent, Op, Put

COMPARE_TARGETS = {
    "mod": rpc.Compare.MOD,
    "create": rpc.Compare.CREATE,
    "value": rpc.Compare.VALUE,
}


def to_kv(kv: Any) -> KV:
    return KV(
        key=kv.key.decode(),
        value=kv.value,
        mod_revision=kv.mod_revision,
        create_revision=kv.create_revision,
        version=kv.version,
        lease=kv.lease,
    )


def to_compare(compare: Compare) -> Any:
    message = rpc.Compare(
        key=compare.key.encode(),
        result=rpc.Compare.EQUAL,
        target=COMPARE_TARGETS[compare.target],
    )
    if compare.target == "mod":
        message.mod_revision = int(compare.value)
    elif compare.target == "create":
        message.create_revision = int(compare.value)
    else:
        message.value = compare.value if isinstance(compare.value, bytes) else b""
    return message


def to_request_op(op: Op) -> Any:
    if isinstance(op, Put):
        put = rpc.PutRequest(key=op.key.encode(), value=op.value)
        if op.keep_lease:
            put.ignore_lease = True
        elif op.lease:
            put.lease = op.lease
        return rpc.RequestOp(request_put=put)
    if isinstance(op, Delete):
        return rpc.RequestOp(request_delete_range=rpc.DeleteRangeRequest(key=op.key.encode()))
    return rpc.RequestOp(request_range=rpc.RangeRequest(key=op.key.encode()))


def prefix_end(prefix: bytes) -> bytes:
    return aetcd.utils.prefix_range_end(prefix)  # type: ignore[no-any-return]


def permanent(exc: grpc.aio.AioRpcError) -> O2Error:
    details = exc.details() or ""
    if exc.code() == grpc.StatusCode.NOT_FOUND and "lease" in details:
        return NotFoundError("lease", details)
    if exc.code() == grpc.StatusCode.OUT_OF_RANGE and "compacted" in details:
        return CompactedError(0)
    if exc.code() == grpc.StatusCode.PERMISSION_DENIED or any(
        text in details for text in ("authentication failed", "user name is empty", "auth token")
    ):
        return StoreUnavailableError(
            f"etcd refused the request ({details}): check --etcd-user/--etcd-password "
            "(O2_ETCD_USER/O2_ETCD_PASSWORD) and the user's role"
        )
    return O2Error(f"etcd error {exc.code().name}: {details}")


def to_event(event: Any) -> KVEvent:
    kv = to_kv(event.kv)
    prev = to_kv(event.prev_kv) if event.prev_kv is not None else None
    if event.kind == "DELETE":
        return KVEvent("DELETE", kv, prev, kv.mod_revision)
    return KVEvent("PUT", kv, prev, kv.mod_revision)
