"""EtcdStore behaviour only a real etcd shows: restarts, failover, unreachable endpoints, auth."""

from __future__ import annotations

import asyncio
import subprocess

import pytest

from crds.errors import StoreUnavailableError
from crds.meta import utcnow
from store.config import StoreConfig, open_store
from store.embedded import etcd_binary, free_port
from store.etcd import EtcdStore
from tests.etcd_fixture import PrivateEtcdFactory, unique_prefix
from tests.store.changes import next_change
from tests.store.widget import Widget, widget


async def test_watch_resumes_after_etcd_restart(private_etcd: PrivateEtcdFactory) -> None:
    etcd = private_etcd()
    store = await open_store(StoreConfig(endpoints=(etcd.endpoint,), prefix=unique_prefix()))
    try:
        created = await store.create(widget("a"))
        stream = aiter(store.watch(Widget, start_revision=(created.metadata.resource_version or 0)))
        first = await asyncio.wait_for(next_change(stream), timeout=5)
        assert first.type == "ADDED"
        etcd.stop_sync()
        etcd.start_sync()  # same data dir, same ports
        updated = await store.update(
            created.model_copy(update={"spec": created.spec.model_copy(update={"size": 9})})
        )
        event = await asyncio.wait_for(next_change(stream), timeout=15)
        assert (event.type, event.revision) == ("MODIFIED", updated.metadata.resource_version)
        await stream.aclose()  # type: ignore[attr-defined]
    finally:
        await store.close()


async def test_writes_ride_through_an_etcd_restart(private_etcd: PrivateEtcdFactory) -> None:
    etcd = private_etcd()
    store = await open_store(StoreConfig(endpoints=(etcd.endpoint,), prefix=unique_prefix()))
    try:
        await store.create(widget("a"))
        etcd.kill_sync()
        restart = asyncio.get_running_loop().run_in_executor(None, etcd.start_sync)
        created = await store.create(widget("b"))  # retried until etcd is back
        await restart
        assert (await store.get(Widget, "b")) == created
    finally:
        await store.close()


async def test_unreachable_etcd_raises_store_unavailable_naming_endpoints() -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"
    config = StoreConfig(endpoints=(endpoint,), retry_timeout=0.5, timeout=1.0)
    store = await open_store(config)
    try:
        with pytest.raises(StoreUnavailableError, match=endpoint):
            await store.get(Widget, "a")
    finally:
        await store.close()


async def test_failover_to_the_next_endpoint(private_etcd: PrivateEtcdFactory) -> None:
    etcd = private_etcd()
    dead = f"http://127.0.0.1:{free_port()}"
    config = StoreConfig(endpoints=(dead, etcd.endpoint), prefix=unique_prefix())
    store = await open_store(config)
    try:
        created = await store.create(widget("a"))
        assert (await store.get(Widget, "a")) == created
    finally:
        await store.close()


def _etcdctl(endpoint: str, *args: str, user: str | None = None) -> None:
    command = [str(etcd_binary("etcdctl")), f"--endpoints={endpoint}", *args]
    if user:
        command.insert(2, f"--user={user}")
    subprocess.run(command, check=True, capture_output=True, timeout=30)


async def test_username_password_authentication(private_etcd: PrivateEtcdFactory) -> None:
    etcd = private_etcd()
    _etcdctl(etcd.endpoint, "user", "add", "root:rootpw")
    _etcdctl(etcd.endpoint, "auth", "enable")
    prefix = unique_prefix()
    good = await open_store(
        StoreConfig(endpoints=(etcd.endpoint,), prefix=prefix, username="root", password="rootpw")
    )
    anonymous = await open_store(
        StoreConfig(endpoints=(etcd.endpoint,), prefix=prefix, retry_timeout=0.5)
    )
    wrong = await open_store(
        StoreConfig(
            endpoints=(etcd.endpoint,),
            prefix=prefix,
            username="root",
            password="bad",
            retry_timeout=0.5,
        )
    )
    try:
        created = await good.create(widget("a"))
        assert (await good.get(Widget, "a")) == created
        with pytest.raises(StoreUnavailableError):
            await wrong.get(Widget, "a")
        with pytest.raises(StoreUnavailableError, match="O2_ETCD_USER"):
            await anonymous.get(Widget, "a")
    finally:
        for store in (good, anonymous, wrong):
            await store.close()


async def test_list_pages_through_large_prefixes_at_one_revision(etcd_store: EtcdStore) -> None:
    from store import codec
    from store.kv import Put

    objs = [codec.prepare_create(widget(f"w{i:05d}"), now=utcnow()) for i in range(2600)]
    for start in range(0, len(objs), 128):
        batch = objs[start : start + 128]
        puts = [Put(etcd_store.key_for(Widget, o.metadata.name), codec.encode(o)) for o in batch]
        await etcd_store.kv.txn([], puts)
    listed = await etcd_store.list(Widget)
    assert [o.metadata.name for o in listed.items] == [o.metadata.name for o in objs]
    assert listed.revision == max(o.metadata.resource_version or 0 for o in listed.items)


async def test_status_batch_too_large_for_etcd_falls_back_per_item(
    etcd_store: EtcdStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    from store import batched
    from tests.store.widget import WidgetStatus

    monkeypatch.setattr(batched, "BATCH_BYTES", 100 * 1024 * 1024)  # let etcd refuse it
    objs = [await etcd_store.create(widget(f"w{i}")) for i in range(12)]
    big = [o.model_copy(update={"status": WidgetStatus(phase="x" * 150_000)}) for o in objs]
    result = await etcd_store.update_status_many(big)
    assert result.ok and len(result.written) == 12
    revisions = {r.metadata.resource_version for r in result.written}
    assert len(revisions) == 12  # one txn each after the fallback
