"""`python -m gui` flags: listen address parsing and token file loading."""

from __future__ import annotations

from pathlib import Path

import pytest

from crds.errors import ValidationError
from gui.__main__ import load_tokens, main, parse_args, split_listen, trusted_proxies
from gui.auth import LOOPBACK_PROXIES, User, hash_token


def test_listen_defaults_to_loopback() -> None:
    args = parse_args([])
    assert split_listen(args.listen) == ("127.0.0.1", 8080)
    assert args.token_file is None


@pytest.mark.parametrize(
    ("text", "expected"), [("0.0.0.0:9000", ("0.0.0.0", 9000)), ("[::1]:80", ("::1", 80))]
)
def test_listen_parses_host_and_port(text: str, expected: tuple[str, int]) -> None:
    assert split_listen(text) == expected


@pytest.mark.parametrize("text", ["8080", "host:", ":80", "host:http"])
def test_bad_listen_is_a_clear_exit(text: str) -> None:
    with pytest.raises(SystemExit, match="host:port"):
        split_listen(text)


def test_without_token_file_actions_are_off() -> None:
    assert not load_tokens(None).enabled


def test_missing_token_file_is_a_clear_exit(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="--token-file"):
        load_tokens(tmp_path / "absent")


def test_bad_token_file_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "tokens"
    path.write_text("alice:alice-token-123\nbroken\n")
    path.chmod(0o600)
    with pytest.raises(ValidationError, match="line 2"):
        load_tokens(path)


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_token_file_others_can_read_is_refused_naming_file_and_chmod(
    tmp_path: Path, mode: int
) -> None:
    path = tmp_path / "tokens"
    path.write_text("alice:alice-token-123\n")
    path.chmod(mode)
    with pytest.raises(ValidationError, match=rf"{path}: mode: mode 0{mode:o}.*chmod 600 {path}"):
        load_tokens(path, flag="--read-token-file")


def test_private_token_file_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "tokens"
    path.write_text("alice:alice-token-123\n")
    path.chmod(0o600)
    assert load_tokens(path).who("Bearer alice-token-123") == "alice"


def test_users_file_is_read_as_hashed_tokens_with_roles_and_must_be_private(
    tmp_path: Path,
) -> None:
    path = tmp_path / "users"
    path.write_text(f"vera:viewer:{hash_token('vera-token-1')}\n")
    path.chmod(0o644)
    with pytest.raises(ValidationError, match="chmod 600"):
        load_tokens(path, flag="--users-file")
    path.chmod(0o600)
    users = load_tokens(path, flag="--users-file")
    assert users.user("Bearer vera-token-1") == User("vera", "viewer")
    assert parse_args(["--users-file", str(path)]).users_file == path


def test_trusted_proxies_default_to_loopback_and_take_addresses_and_blocks() -> None:
    assert trusted_proxies(parse_args([]), "127.0.0.1") == LOOPBACK_PROXIES
    args = parse_args(["--trusted-proxy", "10.0.0.5", "--trusted-proxy", "10.1.0.0/16"])
    assert [str(p) for p in trusted_proxies(args, "127.0.0.1")] == ["10.0.0.5/32", "10.1.0.0/16"]
    with pytest.raises(SystemExit, match=r"--trusted-proxy: .*address or CIDR"):
        trusted_proxies(parse_args(["--trusted-proxy", "proxy.cern.ch"]), "127.0.0.1")


def test_trusted_header_beyond_loopback_without_a_proxy_refuses_to_start() -> None:
    """Refused before etcd is opened (nothing listens at port 1), naming what to add."""
    argv = ["--trust-user-header", "X-Remote-User", "--listen", "0.0.0.0:0", "--etcd", "x:1"]
    with pytest.raises(SystemExit, match=r"--trust-user-header .*needs --trusted-proxy ADDR"):
        main(argv)
    args = parse_args([*argv, "--trusted-proxy", "10.0.0.0/24"])
    assert [str(p) for p in trusted_proxies(args, "0.0.0.0")] == ["10.0.0.0/24"]
    assert trusted_proxies(parse_args(argv[2:]), "0.0.0.0") == LOOPBACK_PROXIES, "no header"
