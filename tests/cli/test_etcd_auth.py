"""`o2 etcd-auth plan|apply` end to end: passwords from files or the environment only, an
idempotent apply, auth turned on, and the users then limited to their key ranges."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from store.authplan import O2_USERS, ROOT
from tests.cli.conftest import O2
from tests.etcd_fixture import PrivateEtcdFactory

TASK = """apiVersion: o2/v1alpha1
kind: TaskClass
metadata: {name: readout}
spec:
  command: {value: /bin/true}
"""


def password_dir(tmp_path: Path, *, mode: int = 0o600) -> Path:
    folder = tmp_path / "etcd-users"
    folder.mkdir()
    for user in (*O2_USERS, ROOT):
        path = folder / user
        path.write_text(f"secret-of-{user}\n")
        path.chmod(mode)
    return folder


def test_plan_lists_roles_ranges_and_where_each_password_comes_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("O2_ETCD_PASSWORD_O2_VIEWER", "from-env")
    o2 = O2(endpoint="http://127.0.0.1:1", prefix="/farm")  # plan never connects
    folder = password_dir(tmp_path)
    (folder / "o2-viewer").unlink()
    result = o2("etcd-auth", "plan", "--password-dir", str(folder), "-o", "json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    perms = {r["name"]: [(p["perm"], p["key"]) for p in r["permissions"]] for r in doc["roles"]}
    assert perms["o2-controller"] == [("readwrite", "/farm/")]
    assert perms["o2-gui"] == [("read", "/farm/")]  # no --gui-actions: the GUI writes nothing
    assert perms["o2-operator"] == [("read", "/farm/"), ("readwrite", "/farm/registry/")]
    assert perms["o2-viewer"] == [("read", "/farm/")]
    sources = {u["name"]: u["passwordFrom"] for u in doc["users"]}
    assert sources["o2-viewer"] == "$O2_ETCD_PASSWORD_O2_VIEWER"
    assert sources["root"] == str(folder / "root")
    assert "secret" not in result.stdout and "from-env" not in result.stdout
    table = o2("etcd-auth", "plan", "--gui-actions")
    assert "/farm/registry/environments/" in table.stdout


def test_apply_enables_auth_then_changes_nothing_and_the_viewer_cannot_write(
    private_etcd: PrivateEtcdFactory, tmp_path: Path
) -> None:
    o2 = O2(endpoint=private_etcd().endpoint, prefix="/o2")
    folder = password_dir(tmp_path)
    no_root = o2("etcd-auth", "apply", "--enable")
    assert no_root.exit_code == 1
    assert "O2_ETCD_PASSWORD_ROOT" in no_root.stderr
    first = o2("etcd-auth", "apply", "--password-dir", str(folder), "--enable")
    assert first.exit_code == 0, first.stderr
    assert "add user o2-viewer" in first.stdout and "enable authentication" in first.stdout
    assert "sent unencrypted" in first.stderr  # new users' passwords travel in plain text
    assert "secret-of" not in first.stdout + first.stderr
    anonymous = o2("etcd-auth", "apply")
    assert anonymous.exit_code == 1
    assert "already enabled" in anonymous.stderr and "--user root" in anonymous.stderr
    as_root = ("--user", "root", "--password-file", str(folder / "root"))
    again = o2(*as_root, "etcd-auth", "apply", "--password-dir", str(folder), "--enable")
    assert again.exit_code == 0, again.stderr
    assert "nothing changed (auth on)" in again.stdout
    manifest = tmp_path / "tc.yaml"
    manifest.write_text(TASK)
    viewer = ("--user", "o2-viewer", "--password-file", str(folder / "o2-viewer"))
    refused = o2(*viewer, "apply", "-f", str(manifest))
    assert refused.exit_code == 1
    assert "permission denied" in refused.stderr and "Traceback" not in refused.stderr
    operator = ("--user", "o2-operator", "--password-file", str(folder / "o2-operator"))
    assert o2(*operator, "apply", "-f", str(manifest)).exit_code == 0
    assert "readout" in o2(*viewer, "get", "taskclasses").stdout


def test_a_password_file_others_may_read_is_refused(
    private_etcd: PrivateEtcdFactory, tmp_path: Path
) -> None:
    o2 = O2(endpoint=private_etcd().endpoint, prefix="/o2")
    result = o2("etcd-auth", "apply", "--password-dir", str(password_dir(tmp_path, mode=0o644)))
    assert result.exit_code == 1
    # The message names the path, so where it wraps depends on the temp dir's length.
    assert "chmod 600" in " ".join(result.stderr.split())
