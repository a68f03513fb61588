"""The ComponentConfig reconciler on real etcd: versions, validation, stale environments."""

from __future__ import annotations

from collections.abc import Callable

from controller.manager import Manager
from crds.conditions import get_condition
from crds.kinds.componentconfig import ComponentConfig
from crds.kinds.environment import Environment, EnvironmentSpec
from crds.meta import ObjectMeta
from store.etcd import EtcdStore
from tests.configs.conftest import wait_for
from tests.configs.factories import cc, version_is


async def edit(store: EtcdStore, name: str, data: str) -> ComponentConfig:
    current = await store.get(ComponentConfig, name)
    spec = current.spec.model_copy(update={"data": data})
    return await store.update(current.model_copy(update={"spec": spec}))


async def test_every_payload_change_becomes_a_version_with_history(
    etcd_store: EtcdStore, manager: Manager
) -> None:
    await etcd_store.create(cc("readout-any", fmt="ini", data="[r]\nrate = 1\n"))
    first = await wait_for(etcd_store, ComponentConfig, "readout-any", version_is(1))
    assert first is not None
    ready = get_condition(first.status.conditions, "Ready")
    assert ready is not None and ready.status == "True"
    for rate in (2, 3, 4):
        await edit(etcd_store, "readout-any", f"[r]\nrate = {rate}\n")
        await wait_for(etcd_store, ComponentConfig, "readout-any", version_is(rate))
    done = await etcd_store.get(ComponentConfig, "readout-any")
    assert [v.version for v in done.status.history] == [1, 2, 3, 4]
    assert [v.data for v in done.status.history][:3] == [f"[r]\nrate = {i}\n" for i in (1, 2, 3)]
    assert all(v.changed_at is not None for v in done.status.history)


async def test_unparsable_payload_is_not_ready_and_names_the_line(
    etcd_store: EtcdStore, manager: Manager
) -> None:
    bad = "[readout]\nrate = 1\nno equals sign here\n"
    await etcd_store.create(cc("readout-bad", fmt="ini", data=bad))

    def not_ready(o: ComponentConfig | None) -> bool:
        cond = None if o is None else get_condition(o.status.conditions, "Ready")
        return cond is not None and cond.status == "False"

    found = await wait_for(etcd_store, ComponentConfig, "readout-bad", not_ready)
    assert found is not None
    ready = get_condition(found.status.conditions, "Ready")
    assert ready is not None
    assert ready.reason == "InvalidPayload"
    assert ready.message.startswith("componentconfig/readout-bad@1 line 3: invalid INI")
    await edit(etcd_store, "readout-bad", "[readout]\nrate = 1\n")
    fixed = await wait_for(etcd_store, ComponentConfig, "readout-bad", lambda o: not not_ready(o))
    assert fixed is not None and fixed.status.version == 2


async def configured_env(store: EtcdStore, name: str, refs: dict[str, str]) -> Environment:
    """An environment as the environment controller leaves it after CONFIGURE."""
    env = await store.create(
        Environment(
            metadata=ObjectMeta(name=name),
            spec=EnvironmentSpec.model_validate({"workflow": "readout", "runType": "PHYSICS"}),
        )
    )
    status = env.status.model_copy(update={"state": "CONFIGURED", "config_versions": refs})
    return await store.update_status(env.model_copy(update={"status": status}))


def pending(value: str) -> Callable[[Environment | None], bool]:
    def check(env: Environment | None) -> bool:
        cond = None if env is None else get_condition(env.status.conditions, "ConfigChangePending")
        return cond is not None and cond.status == value

    return check


async def test_change_to_used_config_marks_configured_environment_pending(
    etcd_store: EtcdStore, manager: Manager
) -> None:
    await etcd_store.create(cc("readout-physics", run_type="PHYSICS", data="rate=1"))
    await etcd_store.create(cc("qc-any", component="qc", data="x=1"))
    await wait_for(etcd_store, ComponentConfig, "readout-physics", version_is(1))
    await configured_env(etcd_store, "physics-1", {"readout/main": "readout-physics@1"})
    await configured_env(etcd_store, "qc-only", {"qc/main": "qc-any@1"})

    await edit(etcd_store, "readout-physics", "rate=2")
    env = await wait_for(etcd_store, Environment, "physics-1", pending("True"))
    assert env is not None
    cond = get_condition(env.status.conditions, "ConfigChangePending")
    assert cond is not None
    assert cond.reason == "ConfigChanged"
    assert "componentconfig/readout-physics v1 -> v2" in cond.message
    assert "spec.reconfigure=NextRun" in cond.message

    # the environment controller reconfigures and records the new version: pending clears
    status = env.status.model_copy(
        update={"config_versions": {"readout/main": "readout-physics@2"}}
    )
    await etcd_store.update_status(env.model_copy(update={"status": status}))
    await wait_for(etcd_store, Environment, "physics-1", pending("False"))
    # uses qc only: never pending, and marked current
    await wait_for(etcd_store, Environment, "qc-only", pending("False"))


async def test_deleting_a_used_config_marks_the_environment_pending(
    etcd_store: EtcdStore, manager: Manager
) -> None:
    await etcd_store.create(cc("readout-any", data="rate=1"))
    await wait_for(etcd_store, ComponentConfig, "readout-any", version_is(1))
    await configured_env(etcd_store, "physics-2", {"readout/main": "readout-any@1"})
    await etcd_store.delete(ComponentConfig, "readout-any")
    env = await wait_for(etcd_store, Environment, "physics-2", pending("True"))
    assert env is not None
    cond = get_condition(env.status.conditions, "ConfigChangePending")
    assert cond is not None and "readout-any deleted" in cond.message
