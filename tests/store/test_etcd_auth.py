"""Least-privilege etcd users, on a real etcd of their own with auth turned on by the plan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from crds.errors import PermissionDeniedError
from crds.kinds.environment import Environment, EnvironmentSpec
from crds.kinds.event import Event
from crds.kinds.task import Task
from crds.meta import ObjectMeta, utcnow
from gui.actions import action_event
from store.authplan import O2_USERS, ROOT, AuthPlan, EnableAuth, diff, plan_for
from store.config import StoreConfig, open_store
from store.embedded import EmbeddedEtcd
from store.etcd import EtcdStore
from store.etcd.auth import AuthAdminError, EtcdAuthAdmin
from tests.etcd_fixture import PrivateEtcdFactory
from tests.tasks.harness import sample_task

PREFIX = "/o2"
RUN_NUMBER = f"{PREFIX}/runtime/run-number"
PASSWORDS = {name: f"pw-{name}" for name in (*O2_USERS, ROOT)}


@dataclass
class AuthEtcd:
    etcd: EmbeddedEtcd
    plan: AuthPlan

    def config(self, user: str | None, *, prefix: str = PREFIX) -> StoreConfig:
        password = PASSWORDS[user] if user else None
        return StoreConfig(
            endpoints=(self.etcd.endpoint,), prefix=prefix, username=user, password=password
        )

    async def store(self, user: str | None, *, prefix: str = PREFIX) -> EtcdStore:
        return await open_store(self.config(user, prefix=prefix), warn=lambda _: None)


async def apply_plan(admin: EtcdAuthAdmin, plan: AuthPlan, *, enable: bool) -> int:
    changes = diff(plan, await admin.state(), passwords=PASSWORDS, enable=enable)
    await admin.apply(changes)
    return len(changes)


@pytest.fixture
async def auth_etcd(private_etcd: PrivateEtcdFactory) -> AsyncIterator[AuthEtcd]:
    """A private etcd (enabling auth changes it for good) with the plan applied, auth on."""
    etcd = private_etcd()
    plan = plan_for(PREFIX, gui_actions=True)
    env = AuthEtcd(etcd, plan)
    async with EtcdAuthAdmin(env.config(None).connection()) as admin:
        assert await apply_plan(admin, plan, enable=True) > 0
    yield env


async def test_viewer_reads_but_its_put_is_refused_with_a_clear_error(auth_etcd: AuthEtcd) -> None:
    controller = await auth_etcd.store("o2-controller")
    viewer = await auth_etcd.store("o2-viewer")
    try:
        await controller.create(sample_task("t1"))
        assert [t.name for t in (await viewer.list(Task)).items] == ["t1"]
        with pytest.raises(PermissionDeniedError, match="'o2-viewer' has no role allowing it"):
            await viewer.create(sample_task("t2"))
    finally:
        await controller.close()
        await viewer.close()


async def test_controller_writes_under_its_prefix_and_nowhere_else(auth_etcd: AuthEtcd) -> None:
    inside = await auth_etcd.store("o2-controller")
    outside = await auth_etcd.store("o2-controller", prefix="/other")
    try:
        await inside.create(sample_task("t1"))
        assert await inside.increment(RUN_NUMBER) == 1  # the run-number counter under runtime/
        with pytest.raises(PermissionDeniedError):
            await outside.create(sample_task("t1"))
    finally:
        await inside.close()
        await outside.close()


def audit_event() -> Event:
    env = Environment(metadata=ObjectMeta(name="e1", uid="u1"), spec=EnvironmentSpec(workflow="w"))
    return action_event(env, action="start", who="me", now=utcnow())


async def test_gui_writes_an_event_under_a_lease_but_no_task(auth_etcd: AuthEtcd) -> None:
    gui = await auth_etcd.store("o2-gui")
    try:
        event = await gui.create(audit_event(), lease=await gui.grant_lease(60))
        assert (await gui.get(Event, event.name)).spec.reason == "UserAction"
        with pytest.raises(PermissionDeniedError):
            await gui.create(sample_task("t1"))
    finally:
        await gui.close()


async def test_operator_applies_resources_but_cannot_touch_the_run_number(
    auth_etcd: AuthEtcd,
) -> None:
    operator = await auth_etcd.store("o2-operator")
    try:
        await operator.create(sample_task("t1"))
        with pytest.raises(PermissionDeniedError):
            await operator.increment(RUN_NUMBER)
    finally:
        await operator.close()


async def test_a_second_apply_changes_nothing(auth_etcd: AuthEtcd) -> None:
    async with EtcdAuthAdmin(auth_etcd.config(ROOT).connection()) as admin:
        state = await admin.state()
        assert state.enabled
        assert diff(auth_etcd.plan, state, passwords={}, enable=True) == []


async def test_apply_without_root_credentials_once_auth_is_on_says_what_to_give(
    auth_etcd: AuthEtcd,
) -> None:
    async with EtcdAuthAdmin(auth_etcd.config(None).connection()) as admin:
        with pytest.raises(AuthAdminError, match=r"already enabled.*--user root"):
            await admin.state()
    async with EtcdAuthAdmin(auth_etcd.config("o2-operator").connection()) as admin:
        with pytest.raises(AuthAdminError, match="only etcd's root user may"):
            await admin.state()


async def test_turning_gui_actions_off_revokes_the_gui_writes(auth_etcd: AuthEtcd) -> None:
    read_only = plan_for(PREFIX, gui_actions=False)
    async with EtcdAuthAdmin(auth_etcd.config(ROOT).connection()) as admin:
        changes = diff(read_only, await admin.state(), passwords={})
        assert len(changes) == 2 and not any(isinstance(c, EnableAuth) for c in changes)
        await admin.apply(changes)
    gui = await auth_etcd.store("o2-gui")
    try:
        with pytest.raises(PermissionDeniedError):
            await gui.create(audit_event())
    finally:
        await gui.close()
