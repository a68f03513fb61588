"""Between store.kv's plain types and etcd's protobuf messages and aetcd's errors. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aetcd.utils
import grpc
from aetcd import rpc

from crds.errors import (
    CompactedError,
    NotFoundError,
    O2Error,
    PermissionDeniedError,
    StoreUnavailableError,
)
from store.kv import KV, Compare, Delete, KVEvent, Op, Put


def to_kv(kv: Any) -> KV:
    return KV(
        key=kv.key.decode(),
        value=kv.value,
        mod_revision=kv.mod_revision,
        create_revision=kv.create_revision,
        version=kv.version,
        lease=kv.lease,
    )


_EQUAL = rpc.Compare.EQUAL
_MOD, _CREATE, _VALUE = rpc.Compare.MOD, rpc.Compare.CREATE, rpc.Compare.VALUE


def build_txn(compares: Sequence[Compare], success: Sequence[Op], failure: Sequence[Op]) -> Any:
    """The TxnRequest, filled in place: building sub-messages apart and passing them in would
    copy every value twice (the store's hot path)."""
    request = rpc.TxnRequest()
    for compare in compares:
        message = request.compare.add()
        message.key = compare.key.encode()
        message.result = _EQUAL
        if compare.target == "mod":
            message.target = _MOD
            message.mod_revision = int(compare.value)
        elif compare.target == "create":
            message.target = _CREATE
            message.create_revision = int(compare.value)
        else:
            message.target = _VALUE
            message.value = compare.value if isinstance(compare.value, bytes) else b""
    _fill_ops(request.success, success)
    _fill_ops(request.failure, failure)
    return request


def _fill_ops(target: Any, ops: Sequence[Op]) -> None:
    for op in ops:
        item = target.add()
        if isinstance(op, Put):
            put = item.request_put
            put.key = op.key.encode()
            put.value = op.value
            if op.keep_lease:
                put.ignore_lease = True
            elif op.lease:
                put.lease = op.lease
        elif isinstance(op, Delete):
            item.request_delete_range.key = op.key.encode()
        else:
            item.request_range.key = op.key.encode()


def prefix_end(prefix: bytes) -> bytes:
    return aetcd.utils.prefix_range_end(prefix)  # type: ignore[no-any-return]


def permanent(exc: grpc.aio.AioRpcError, *, user: str | None = None) -> O2Error:
    """The O2Error for an etcd error that retrying will not fix; `user`: the etcd user."""
    details = exc.details() or ""
    if "permission denied" in details:
        who = f"etcd user {user!r}" if user else "an anonymous etcd client"
        return PermissionDeniedError(
            f"etcd refused the request ({details}): {who} has no role allowing it on these "
            "keys; use a user whose role does (`o2 etcd-auth plan` lists them) or set "
            "O2_ETCD_USER/O2_ETCD_PASSWORD"
        )
    if exc.code() == grpc.StatusCode.NOT_FOUND and "lease" in details:
        return NotFoundError("lease", details)
    if exc.code() == grpc.StatusCode.OUT_OF_RANGE and "compacted" in details:
        return CompactedError(0)
    if exc.code() == grpc.StatusCode.PERMISSION_DENIED or any(
        text in details for text in ("authentication failed", "user name is empty", "auth token")
    ):
        return StoreUnavailableError(
            f"etcd refused the request ({details}): check the etcd user and password "
            "(O2_ETCD_USER/O2_ETCD_PASSWORD) and the user's role"
        )
    return O2Error(f"etcd error {exc.code().name}: {details}")


_DELETE_EVENT = rpc.Event.DELETE
_new = object.__new__
_set_key, _set_value, _set_mod, _set_create, _set_version, _set_lease = (
    KV.__dict__[name].__set__  # a slot's own setter: what the frozen __init__ calls, unwrapped
    for name in ("key", "value", "mod_revision", "create_revision", "version", "lease")
)
_set_type, _set_kv, _set_prev, _set_revision = (
    KVEvent.__dict__[name].__set__ for name in ("type", "kv", "prev", "revision")
)


def to_events(events: Any) -> list[KVEvent]:
    """One watch response's events (etcd's protobuf `Event`s), read straight from the message:
    aetcd's own Event and KeyValue objects for each (built only to be converted here), and a
    queue hop each, were 8 of the 32 us an informer spent on the echo of a status write
    (hack.bench.informer_bench --etcd). A DELETE carries the previous value (None when etcd
    has none, e.g. compacted, or the watch did not ask for it: `prev_requests`); a PUT's
    previous value is not copied: nothing reads it (store.kv.KVEvent). The KV and KVEvent of
    each are filled slot by slot: their frozen dataclass constructors (each field through
    object.__setattr__) were half of this."""
    out: list[KVEvent] = []
    append = out.append
    for event in events:
        kv = event.kv
        revision = kv.mod_revision
        current = _new(KV)
        _set_key(current, kv.key.decode())
        _set_value(current, kv.value)
        _set_mod(current, revision)
        _set_create(current, kv.create_revision)
        _set_version(current, kv.version)
        _set_lease(current, kv.lease)
        item = _new(KVEvent)
        _set_kv(item, current)
        _set_revision(item, revision)
        if event.type == _DELETE_EVENT:
            _set_type(item, "DELETE")
            _set_prev(item, to_kv(event.prev_kv) if event.HasField("prev_kv") else None)
        else:
            _set_type(item, "PUT")
            _set_prev(item, None)
        append(item)
    return out


PREV_RANGES_PER_TXN = 128
"""Range ops per txn reading deleted values: etcd's default --max-txn-ops."""


def deleted_without_prev(events: Sequence[KVEvent]) -> list[KVEvent]:
    """The DELETE events of a batch whose deleted value is not known yet."""
    return [event for event in events if event.type == "DELETE" and event.prev is None]


def prev_requests(deleted: Sequence[KVEvent]) -> list[Any]:
    """TxnRequests reading the value each of `deleted` removed: its key at the revision before
    the deletion (what etcd's prev_kv holds), at most `PREV_RANGES_PER_TXN` per txn. The watch
    does not ask etcd for prev_kv: etcd would send every PUT's previous value too, which
    nothing reads (half the bytes of every watched write, and a read of history per event in
    etcd), to serve the rare DELETE."""
    requests = []
    for at in range(0, len(deleted), PREV_RANGES_PER_TXN):
        request = rpc.TxnRequest()
        for event in deleted[at : at + PREV_RANGES_PER_TXN]:
            read = request.success.add().request_range
            read.key = event.kv.key.encode()
            read.revision = event.kv.mod_revision - 1
        requests.append(request)
    return requests


def fill_prev(deleted: Sequence[KVEvent], responses: Sequence[Any]) -> None:
    """Set each of `deleted`'s previous value from `prev_requests`' answers, in order (None
    where etcd had none). The events are fresh (`to_events`): nobody holds them yet."""
    items = (item for response in responses for item in response.responses)
    for event, item in zip(deleted, items, strict=True):
        kvs = item.response_range.kvs
        _set_prev(event, to_kv(kvs[0]) if kvs else None)
