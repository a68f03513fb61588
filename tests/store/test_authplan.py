"""The least-privilege plan and its diff against etcd's auth settings (pure)."""

from __future__ import annotations

import pytest

from store.authplan import (
    ROOT,
    AddRole,
    AddUser,
    AuthState,
    EnableAuth,
    Grant,
    GrantRole,
    MissingPasswordError,
    Permission,
    Revoke,
    RevokeRole,
    diff,
    plan_for,
    range_end,
)

PASSWORDS = {n: "pw" for n in ("o2-controller", "o2-gui", "o2-operator", "o2-viewer", ROOT)}
EMPTY = AuthState(enabled=False, roles={}, users={})


def applied(*, gui_actions: bool) -> AuthState:
    plan = plan_for("/o2", gui_actions=gui_actions)
    return AuthState(
        enabled=True,
        roles={ROOT: frozenset(), **{r.name: frozenset(r.permissions) for r in plan.roles}},
        users={u.name: frozenset(u.roles) for u in plan.users},
    )


def test_range_end_covers_exactly_the_keys_under_a_prefix() -> None:
    end = range_end("/o2/")
    assert end == "/o20"
    assert all("/o2/" <= key < end for key in ("/o2/", "/o2/registry/x", "/o2/\uffff"))
    assert not any("/o2/" <= key < end for key in ("/o2", "/o20", "/o2x", "/o3/"))


def test_a_fresh_etcd_gets_roles_before_users_and_auth_enabled_last() -> None:
    changes = diff(plan_for("/o2", gui_actions=False), EMPTY, passwords=PASSWORDS, enable=True)
    assert changes[0] == AddRole(ROOT) and changes[-1] == EnableAuth()
    first_user = next(i for i, c in enumerate(changes) if isinstance(c, AddUser))
    assert all(not isinstance(c, AddRole | Grant) for c in changes[first_user:])
    assert GrantRole("o2-viewer", "o2-viewer") in changes


def test_an_applied_plan_needs_no_change_and_no_password() -> None:
    assert diff(plan_for("/o2", gui_actions=True), applied(gui_actions=True), passwords={}) == []


def test_dropping_gui_actions_revokes_exactly_the_two_gui_write_ranges() -> None:
    changes = diff(plan_for("/o2", gui_actions=False), applied(gui_actions=True), passwords={})
    assert [type(c) for c in changes] == [Revoke, Revoke]
    assert {c.permission.key for c in changes if isinstance(c, Revoke)} == {
        "/o2/registry/environments/",
        "/o2/registry/events/",
    }


def test_a_changed_permission_type_on_the_same_range_is_granted_not_revoked() -> None:
    state = applied(gui_actions=False)
    roles = dict(state.roles)
    roles["o2-viewer"] = frozenset({Permission("/o2/", "/o20", "readwrite")})
    changes = diff(
        plan_for("/o2", gui_actions=False), AuthState(True, roles, state.users), passwords={}
    )
    assert changes == [Grant("o2-viewer", Permission("/o2/", "/o20", "read"))]


def test_extra_roles_leave_o2_users_but_root_and_other_users_keep_theirs() -> None:
    state = applied(gui_actions=False)
    users = {**state.users, "o2-viewer": frozenset({"o2-viewer", "o2-controller"})}
    users |= {ROOT: frozenset({ROOT, "extra"}), "alice": frozenset({"o2-controller"})}
    changes = diff(
        plan_for("/o2", gui_actions=False), AuthState(True, state.roles, users), passwords={}
    )
    assert changes == [RevokeRole("o2-viewer", "o2-controller")]


def test_every_user_without_a_password_is_named_at_once() -> None:
    with pytest.raises(MissingPasswordError) as caught:
        diff(plan_for("/o2", gui_actions=False), EMPTY, passwords={"o2-gui": "pw"})
    assert caught.value.users == ("o2-controller", "o2-operator", "o2-viewer", ROOT)


def test_passwords_never_appear_in_a_change_repr() -> None:
    assert "pw" not in repr(AddUser("o2-gui", "pw"))
