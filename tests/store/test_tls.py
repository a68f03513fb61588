"""EtcdStore over TLS with client certificates (test CA made with the openssl CLI)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from crds.errors import StoreUnavailableError
from store.config import StoreConfig, open_store
from store.embedded import TLSFiles
from tests.etcd_fixture import PrivateEtcdFactory, unique_prefix
from tests.store.widget import Widget, widget

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl CLI")


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def _issue(name: str, *, cwd: Path, ext: str) -> None:
    (cwd / f"{name}.ext").write_text(ext)
    _openssl(
        "req",
        "-new",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        f"{name}.key",
        "-out",
        f"{name}.csr",
        "-subj",
        f"/CN={name}",
        cwd=cwd,
    )
    _openssl(
        "x509",
        "-req",
        "-in",
        f"{name}.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        f"{name}.crt",
        "-days",
        "1",
        "-extfile",
        f"{name}.ext",
        cwd=cwd,
    )


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cwd = tmp_path_factory.mktemp("pki")
    _openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "1",
        "-subj",
        "/CN=o2-test-ca",
        cwd=cwd,
    )
    _issue("server", cwd=cwd, ext="subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    _issue("client", cwd=cwd, ext="extendedKeyUsage=clientAuth\n")
    return cwd


async def test_store_connects_over_tls_with_client_certificate(
    private_etcd: PrivateEtcdFactory, pki: Path
) -> None:
    etcd = private_etcd(
        tls=TLSFiles(cert=pki / "server.crt", key=pki / "server.key", ca=pki / "ca.crt")
    )
    assert etcd.endpoint.startswith("https://")
    config = StoreConfig(
        endpoints=(etcd.endpoint,),
        prefix=unique_prefix(),
        ca_file=str(pki / "ca.crt"),
        cert_file=str(pki / "client.crt"),
        key_file=str(pki / "client.key"),
    )
    store = await open_store(config)
    try:
        created = await store.create(widget("a"))
        assert (await store.get(Widget, "a")) == created
    finally:
        await store.close()


async def test_tls_without_client_certificate_is_refused(
    private_etcd: PrivateEtcdFactory, pki: Path
) -> None:
    etcd = private_etcd(
        tls=TLSFiles(cert=pki / "server.crt", key=pki / "server.key", ca=pki / "ca.crt")
    )
    config = StoreConfig(endpoints=(etcd.endpoint,), ca_file=str(pki / "ca.crt"), retry_timeout=0.5)
    store = await open_store(config)
    try:
        with pytest.raises(StoreUnavailableError):
            await store.get(Widget, "a")
    finally:
        await store.close()
