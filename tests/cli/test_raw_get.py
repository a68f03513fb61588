"""`o2 get` printed from the stored JSON (cli.rawget) prints what the full path prints, byte for
byte, for every kind and output it serves; a document it cannot vouch for, a missing NAME, a
selector or an unreachable etcd leave it to the full path, having printed nothing."""

from __future__ import annotations

import json
import shutil
import subprocess
import typing
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cli.entry import raw_read
from cli.etcdgateway import GatewayError, read_prefix
from cli.options import GlobalOptions
from cli.rawget import (
    API_VERSION,
    COLUMNS,
    DESIRED_ENV_STATES,
    DESIRED_OCC_STATES,
    ENV_STATES,
    META_FIELDS,
    OCC_STATES,
    TASK_PHASES,
    TOP_FIELDS,
    raw_get,
)
from crds import meta
from crds.kinds import common
from crds.kinds.environment import Environment
from crds.kinds.task import TaskPhase
from crds.resource import kind_info
from hack.bench.store_bench import make_task
from store import codec
from store.embedded import EmbeddedEtcd, TLSFiles
from tests.cli.conftest import O2, SAMPLES
from tests.cli.edit_helpers import stored, with_samples
from tests.store.test_tls import pki

__all__ = ["pki"]  # the test CA and certificates, a fixture

Outcome = tuple[int, str, str]
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def put(o2: O2, plural: str, name: str, doc: dict[str, typing.Any]) -> None:
    o2.etcdctl("put", o2.key(plural, name), json.dumps(doc))


def seed(o2: O2) -> None:
    """The samples, an Environment in a transition with a run number, and Tasks that use
    every column (no environment, no OCC state, ports, a message)."""
    with_samples(o2)
    env = stored(o2, "environments", "physics-1")["doc"]
    env["status"].update(
        state="RUNNING",
        runNumber=7,
        taskCounts={"RUNNING": 2},
        taskTotal=3,
        message="ok",
        transition={"event": "STOP_ACTIVITY", "step": "tasks"},
    )
    Environment.model_validate(env)  # what the raw path reads is a valid document
    put(
        o2,
        "environments",
        "physics-2",
        {**env, "metadata": {**env["metadata"], "name": "physics-2"}},
    )
    put(o2, "environments", "physics-1", env)
    for i in range(3):
        task = codec.prepare_create(make_task(i), now=NOW - timedelta(minutes=i))
        doc = json.loads(codec.encode(task))
        if i == 1:
            del doc["spec"]["environment"], doc["status"]["state"], doc["status"]["pid"]
        if i == 2:
            doc["status"].update(ports=[31000, 31001], message="listening")
        put(o2, "tasks", task.metadata.name, doc)


def raw(argv: list[str], capsys: pytest.CaptureFixture[str]) -> Outcome | None:
    code = raw_read(argv)
    captured = capsys.readouterr()
    if code is None:
        assert not captured.out and not captured.err, captured
        return None
    return code, captured.out, captured.err


SERVED = [
    ["get", "env"],
    ["get", "environments", "-o", "wide"],
    ["get", "envs", "physics-2", "physics-1"],
    ["get", "env", "physics-1", "-oname"],
    ["get", "tasks"],
    ["get", "task", "--output=wide"],
    ["get", "tasks", "-o", "name"],
    ["get", "tasks", "physics-1-flp-00001-readout", "-o", "wide"],
]


@pytest.mark.parametrize("argv", SERVED, ids=" ".join)
def test_the_raw_path_prints_what_the_full_path_prints(
    o2: O2, argv: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(o2)
    for name, value in o2.env.items():
        monkeypatch.setenv(name, value)
    before = raw(argv, capsys)
    full = o2(*argv)
    after = raw(argv, capsys)  # an AGE may tick between two runs: one of them matches
    assert before is not None and after is not None, argv
    assert (full.exit_code, full.stdout, full.stderr) in (before, after), (full.stdout, before)
    assert full.stdout


@pytest.mark.parametrize("output", ["table", "wide", "name"])
def test_an_empty_kind_says_so_as_the_full_path_does(
    o2: O2, output: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in o2.env.items():
        monkeypatch.setenv(name, value)
    full = o2("get", "tasks", "-o", output)
    served = raw(["get", "tasks", "-o", output], capsys)
    assert served == (full.exit_code, full.stdout, full.stderr)


@pytest.mark.parametrize(
    "argv",
    [
        ["get", "env", "missing"],
        ["get", "env", "-l", "a=b"],
        ["get", "env", "-o", "json"],
        ["get", "env", "-o", "yaml"],
        ["get", "tc"],
        ["get", "nokind"],
        ["get", "all"],
    ],
    ids=" ".join,
)
def test_what_the_raw_path_does_not_serve_goes_to_the_full_path(
    o2: O2, argv: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with_samples(o2)
    for name, value in o2.env.items():
        monkeypatch.setenv(name, value)
    assert raw(argv, capsys) is None


def spoil(doc: dict[str, typing.Any], how: str) -> None:
    if how == "unknown field":
        doc["spec"]["colour"] = "red"
        doc["extra"] = 1
    elif how == "state outside its enum":
        doc["status"]["state"] = "DANCING"
    elif how == "wrong type":
        doc["status"]["taskTotal"] = "3"
    elif how == "name unlike its key":
        doc["metadata"]["name"] = "other"
    elif how == "missing field":
        del doc["spec"]["runType"]
    elif how == "naive timestamp":
        doc["metadata"]["creationTimestamp"] = "2026-01-02T03:04:05"
    elif how == "wrong kind":
        doc["kind"] = "Task"


@pytest.mark.parametrize(
    "how",
    [
        "unknown field",
        "state outside its enum",
        "wrong type",
        "name unlike its key",
        "missing field",
        "naive timestamp",
        "wrong kind",
    ],
)
def test_a_document_the_raw_path_cannot_vouch_for_goes_to_the_full_path(
    o2: O2, how: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with_samples(o2)
    doc = stored(o2, "environments", "physics-1")["doc"]
    spoil(doc, how)
    put(o2, "environments", "physics-1", doc)
    for name, value in o2.env.items():
        monkeypatch.setenv(name, value)
    assert raw(["get", "env", "-o", "wide"], capsys) is None
    o2.etcdctl("put", o2.key("environments", "physics-1"), "{not json")
    assert raw(["get", "env"], capsys) is None


def test_an_unreachable_etcd_goes_to_the_full_path(capsys: pytest.CaptureFixture[str]) -> None:
    opts = GlobalOptions(etcd="http://127.0.0.1:9")
    assert raw_get(opts, plural="environments", names=[], output="table") is False
    assert capsys.readouterr() == ("", "")


def test_the_raw_columns_are_the_kinds_printer_columns() -> None:
    for plural, raw_kind in COLUMNS.items():
        info = kind_info(plural)
        assert (info.kind, info.singular) == (raw_kind.kind, raw_kind.singular)
        declared = [(c.header, c.wide_only) for c in info.columns]
        assert declared == [(c.header, c.wide_only) for c in raw_kind.columns], plural


def test_the_raw_enums_and_fields_are_the_models() -> None:
    assert API_VERSION == meta.API_VERSION
    stored_meta = {f.alias or n for n, f in meta.ObjectMeta.model_fields.items()}
    assert stored_meta - {"resourceVersion"} == META_FIELDS
    assert {f.alias or n for n, f in Environment.model_fields.items()} == TOP_FIELDS
    assert typing.get_args(common.OccState) == OCC_STATES
    assert typing.get_args(common.DesiredOccState) == DESIRED_OCC_STATES
    assert typing.get_args(common.EnvironmentState) == ENV_STATES
    assert typing.get_args(common.DesiredEnvironmentState) == DESIRED_ENV_STATES
    assert typing.get_args(TaskPhase) == TASK_PHASES


def test_a_password_without_tls_goes_to_the_full_path_which_warns(
    o2: O2, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {**o2.env, "O2_ETCD_USER": "root", "O2_ETCD_PASSWORD": "pw"}.items():
        monkeypatch.setenv(name, value)
    assert raw(["get", "env"], capsys) is None


def test_the_gateway_logs_in_with_the_user_and_password(
    private_etcd: Callable[..., EmbeddedEtcd],
) -> None:
    etcd = private_etcd()
    o2 = O2(endpoint=etcd.endpoint, prefix="/o2")
    o2.etcdctl("put", "/o2/registry/environments/a", "{}")
    o2.etcdctl("user", "add", "root:s3cret")
    o2.etcdctl("auth", "enable")
    opts = GlobalOptions(etcd=etcd.endpoint, user="root", password="s3cret")
    found = read_prefix(opts, "/o2/registry/", timeout=5.0)
    assert [(kv.key, kv.value) for kv in found] == [("/o2/registry/environments/a", b"{}")]
    with pytest.raises(GatewayError):
        read_prefix(replace(opts, password="wrong"), "/o2/registry/", timeout=5.0)
    with pytest.raises(GatewayError):
        read_prefix(replace(opts, user=None), "/o2/registry/", timeout=5.0)


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def server_cert_for_both_roles(pki: Path) -> tuple[Path, Path]:
    """A server certificate also good for clientAuth: etcd's JSON gateway dials etcd's own
    gRPC port with it, which a client-certificate etcd refuses otherwise."""
    (pki / "both.ext").write_text(
        "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n"
    )
    openssl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", "both.key", "-out",
            "both.csr", "-subj", "/CN=both", cwd=pki)  # fmt: skip
    openssl("x509", "-req", "-in", "both.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "both.crt", "-days", "1", "-extfile", "both.ext",
            cwd=pki)  # fmt: skip
    return pki / "both.crt", pki / "both.key"


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl CLI")
@pytest.mark.parametrize("gateway_works", [True, False])
def test_the_raw_path_reads_over_tls_with_a_client_certificate(
    private_etcd: Callable[..., EmbeddedEtcd],
    pki: Path,
    gateway_works: bool,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With a server certificate for serverAuth only, etcd's own gateway cannot reach etcd
    (503, "bad certificate"): the full path answers then."""
    cert, key = (
        server_cert_for_both_roles(pki)
        if gateway_works
        else (pki / "server.crt", pki / "server.key")
    )
    etcd = private_etcd(tls=TLSFiles(cert=cert, key=key, ca=pki / "ca.crt"))
    env = {
        "O2_ETCD": etcd.endpoint,
        "O2_PREFIX": "/o2",
        "O2_ETCD_CACERT": str(pki / "ca.crt"),
        "O2_ETCD_CERT": str(pki / "client.crt"),
        "O2_ETCD_KEY": str(pki / "client.key"),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    o2 = O2(endpoint=etcd.endpoint, prefix="/o2")
    assert o2("apply", "-f", str(SAMPLES)).exit_code == 0
    full = o2("get", "env", "-o", "wide")
    assert "physics-1" in full.stdout
    served = [raw(["get", "env", "-o", "wide"], capsys) for _ in range(2)]
    if not gateway_works:
        assert served == [None, None]
        return
    assert (full.exit_code, full.stdout, full.stderr) in served
