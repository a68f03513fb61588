"""The global --user/--password flags (and O2_ETCD_* variables) reach etcd."""

from __future__ import annotations

from collections.abc import Callable

from store.embedded import EmbeddedEtcd
from tests.cli.conftest import O2


def test_user_and_password_flags_authenticate(private_etcd: Callable[..., EmbeddedEtcd]) -> None:
    etcd = private_etcd()
    o2 = O2(endpoint=etcd.endpoint, prefix="/o2")
    o2.etcdctl("user", "add", "root:s3cret")
    o2.etcdctl("auth", "enable")
    ok = o2("--user", "root", "--password", "s3cret", "get", "env", "-o", "json")
    assert ok.exit_code == 0, ok.stderr
    assert '"kind": "List"' in ok.stdout
    denied = o2("--user", "root", "--password", "wrong", "get", "env")
    assert denied.exit_code == 1
    assert "Traceback" not in denied.stderr
    assert denied.stderr.startswith("error: etcd at ")
    assert "refused" in denied.stderr
    assert "--user/--password" in denied.stderr
    anonymous = o2("get", "env")
    assert anonymous.exit_code == 1
    assert "O2_ETCD_USER" in anonymous.stderr
