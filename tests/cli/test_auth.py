"""The global --user/--password-file flags (and O2_ETCD_* variables) reach etcd; a password on
the command line is refused, and credentials sent without TLS draw a warning."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from store.embedded import EmbeddedEtcd
from tests.cli.conftest import O2


def password_file(tmp_path: Path, text: str, *, mode: int = 0o600) -> str:
    path = tmp_path / "etcd-password"
    path.write_text(text)
    path.chmod(mode)
    return str(path)


def test_user_and_password_file_authenticate(
    private_etcd: Callable[..., EmbeddedEtcd], tmp_path: Path
) -> None:
    etcd = private_etcd()
    o2 = O2(endpoint=etcd.endpoint, prefix="/o2")
    o2.etcdctl("user", "add", "root:s3cret")
    o2.etcdctl("auth", "enable")
    good = password_file(tmp_path, "s3cret\n")
    ok = o2("--user", "root", "--password-file", good, "get", "env", "-o", "json")
    assert ok.exit_code == 0, ok.stderr
    assert '"kind": "List"' in ok.stdout
    warnings = [line for line in ok.stderr.splitlines() if "unencrypted" in line]
    assert len(warnings) == 1
    assert f"sent unencrypted to {etcd.endpoint}" in warnings[0]
    assert "s3cret" not in ok.stderr
    denied = o2("--user", "root", "--password-file", password_file(tmp_path, "wrong"), "get", "env")
    assert denied.exit_code == 1
    assert "Traceback" not in denied.stderr
    assert "error: etcd at " in denied.stderr
    assert "refused" in denied.stderr
    assert "--user/--password-file" in denied.stderr
    anonymous = o2("get", "env")
    assert anonymous.exit_code == 1
    assert "O2_ETCD_USER" in anonymous.stderr
    assert "unencrypted" not in anonymous.stderr


def test_password_from_the_environment_authenticates(
    private_etcd: Callable[..., EmbeddedEtcd], monkeypatch: pytest.MonkeyPatch
) -> None:
    etcd = private_etcd()
    o2 = O2(endpoint=etcd.endpoint, prefix="/o2")
    o2.etcdctl("user", "add", "root:s3cret")
    o2.etcdctl("auth", "enable")
    monkeypatch.setenv("O2_ETCD_USER", "root")
    monkeypatch.setenv("O2_ETCD_PASSWORD", "s3cret")
    ok = o2("get", "env", "-o", "json")
    assert ok.exit_code == 0, ok.stderr
    assert "unencrypted" in ok.stderr


def test_password_on_the_command_line_is_refused() -> None:
    o2 = O2(endpoint="http://127.0.0.1:1", prefix="/o2")
    refused = o2("--user", "root", "--password", "s3cret", "get", "env")
    assert refused.exit_code == 2
    assert "--password-file" in refused.stderr
    assert "O2_ETCD_PASSWORD" in refused.stderr
    assert "/proc/*/cmdline" in refused.stderr
    assert "s3cret" not in refused.stderr


def test_password_file_others_can_read_is_refused(tmp_path: Path) -> None:
    o2 = O2(endpoint="http://127.0.0.1:1", prefix="/o2")
    loose = password_file(tmp_path, "s3cret\n", mode=0o644)
    refused = o2("--user", "root", "--password-file", loose, "get", "env")
    assert refused.exit_code == 2
    assert "chmod 600" in refused.stderr
    assert "s3cret" not in refused.stderr
