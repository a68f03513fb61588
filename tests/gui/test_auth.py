"""Token file parsing and bearer checks."""

from __future__ import annotations

import pytest

from crds.errors import ValidationError
from gui.auth import (
    NO_TOKENS,
    TrustedHeader,
    User,
    hash_token,
    parse_proxy,
    parse_tokens,
    parse_users,
)


def test_token_file_maps_tokens_to_names_ignoring_comments() -> None:
    tokens = parse_tokens("# operators\nalice:s3cret-token-a\n\nbob: s3cret-token-b\n")
    assert tokens.enabled
    assert tokens.who("Bearer s3cret-token-a") == "alice"
    assert tokens.who("Bearer s3cret-token-b") == "bob"


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer wrong-token", "Basic abc"])
def test_missing_or_wrong_bearer_names_nobody(header: str | None) -> None:
    assert parse_tokens("alice:s3cret-token-a").who(header) is None


def test_no_tokens_means_actions_are_off() -> None:
    assert not NO_TOKENS.enabled
    assert parse_tokens("# nothing\n").enabled is False


@pytest.mark.parametrize("text", ["justatoken", "alice:short", ":s3cret-token-a"])
def test_malformed_line_is_rejected_naming_the_line(text: str) -> None:
    with pytest.raises(ValidationError, match="line 1"):
        parse_tokens(text, source="tokens.txt")


def test_same_token_for_two_names_is_rejected() -> None:
    with pytest.raises(ValidationError, match="line 2"):
        parse_tokens("a:s3cret-token-a\nb:s3cret-token-a")


def test_users_file_keeps_hashes_and_gives_each_user_a_role() -> None:
    users = parse_users(
        f"# shift crew\nvera:viewer:{hash_token('vera-token-1')}\n"
        f"ada:admin:{hash_token('ada-token-22')}\n"
    )
    assert users.user("Bearer vera-token-1") == User("vera", "viewer")
    assert users.user("Bearer ada-token-22") == User("ada", "admin")
    assert users.user(f"Bearer {hash_token('vera-token-1')}") is None, "the hash is no token"
    assert not User("vera", "viewer").may_act
    assert User("ada", "admin").may_act and User("sam", "shifter").may_act


def test_plain_token_holders_are_admins_and_merge_with_users() -> None:
    tokens = parse_tokens("alice:s3cret-token-a").merged(
        parse_users(f"vera:viewer:{hash_token('vera-token-1')}")
    )
    assert tokens.user("Bearer s3cret-token-a") == User("alice", "admin")
    assert tokens.who("Bearer vera-token-1") == "vera"


@pytest.mark.parametrize(
    "text", ["vera:viewer:deadbeef", "vera:boss:sha256:" + "0" * 64, ":viewer:sha256:" + "0" * 64]
)
def test_malformed_users_line_is_rejected_naming_the_line(text: str) -> None:
    with pytest.raises(ValidationError, match="line 1"):
        parse_users(text, source="users")


def test_users_listed_without_token_give_roles_to_header_sign_in() -> None:
    users = parse_users(f"sam:shifter\nvera:viewer:{hash_token('vera-token-1')}\n")
    assert users.roles == {"sam": "shifter"}
    assert users.user("Bearer sam") is None, "a tokenless line is no token"
    sso = TrustedHeader("X-Remote-User", users.roles, "viewer")
    assert sso.user("sam", peer="127.0.0.1") == User("sam", "shifter")
    assert sso.user(" mallory ", peer="::1") == User("mallory", "viewer")
    for empty in ("", None, "x" * 300):
        assert sso.user(empty, peer="127.0.0.1") is None


@pytest.mark.parametrize(
    ("role", "acts", "administers"),
    [("viewer", False, False), ("shifter", True, False), ("admin", True, True)],
)
def test_each_role_has_its_own_powers(role: str, acts: bool, administers: bool) -> None:
    user = User("sam", role)
    assert (user.may_act, user.may_admin) == (acts, administers)


@pytest.mark.parametrize(
    ("proxies", "peer", "trusted"),
    [
        ((), "127.0.0.1", True),
        ((), "::1", True),
        ((), "::ffff:127.0.0.1", True),
        ((), "10.0.0.9", False),
        ((), "127.0.0.2", False),
        ((), None, False),
        ((), "not-an-address", False),
        (("10.0.0.0/24",), "10.0.0.9", True),
        (("10.0.0.0/24",), "127.0.0.1", False),
        (("10.0.0.0/24", "2001:db8::7"), "2001:db8::7", True),
        (("10.0.0.0/24", "2001:db8::7"), "10.0.1.9", False),
    ],
)
def test_the_user_header_counts_only_from_a_trusted_proxy(
    proxies: tuple[str, ...], peer: str | None, trusted: bool
) -> None:
    sso = TrustedHeader("X-Remote-User", {"ada": "admin"})  # the default: loopback
    if proxies:
        sso = TrustedHeader(
            "X-Remote-User", {"ada": "admin"}, "viewer", tuple(map(parse_proxy, proxies))
        )
    assert sso.trusts(peer) is trusted
    assert sso.user("ada", peer=peer) == (User("ada", "admin") if trusted else None)
