"""Secrets for etcd come from private files, and credentials bound for an endpoint without TLS
are called out (StoreConfig, open_store)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from crds.errors import ValidationError
from store.config import (
    StoreConfig,
    open_store,
    plaintext_credentials_warning,
    read_private_file,
)


def secret(tmp_path: Path, text: str, *, mode: int) -> Path:
    path = tmp_path / "secret"
    path.write_text(text)
    path.chmod(mode)
    return path


def test_private_file_gives_its_first_line_without_newline(tmp_path: Path) -> None:
    assert read_private_file(secret(tmp_path, "pw-1\n", mode=0o600), what="password") == "pw-1"
    assert read_private_file(secret(tmp_path, "pw-2", mode=0o400), what="password") == "pw-2"


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o644])
def test_file_group_or_others_can_read_is_refused(tmp_path: Path, mode: int) -> None:
    path = secret(tmp_path, "pw\n", mode=mode)
    with pytest.raises(ValidationError) as caught:
        read_private_file(path, what="etcd password")
    message = str(caught.value)
    assert str(path) in message
    assert f"chmod 600 {path}" in message
    assert "pw" not in message.replace(str(path), "").replace("password", "")


def test_missing_or_empty_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="cannot read etcd password"):
        read_private_file(tmp_path / "absent", what="etcd password")
    with pytest.raises(ValidationError, match="holds no etcd password"):
        read_private_file(secret(tmp_path, "\n", mode=0o600), what="etcd password")


def test_credentials_to_http_endpoint_are_warned_about() -> None:
    config = StoreConfig(
        endpoints=("https://a:2379", "http://b:2379"), username="root", password="pw"
    )
    message = plaintext_credentials_warning(config)
    assert message is not None
    assert "http://b:2379" in message
    assert "https://a:2379" not in message
    assert "pw" not in message.replace("password", "")


@pytest.mark.parametrize(
    "config",
    [
        StoreConfig(endpoints=("http://b:2379",)),
        StoreConfig(endpoints=("http://b:2379",), username="root"),
        StoreConfig(endpoints=("https://b:2379",), username="root", password="pw"),
        StoreConfig(endpoints=("http://b:2379",), username="root", password="pw", ca_file="ca"),
    ],
)
def test_no_warning_without_credentials_or_with_tls(config: StoreConfig) -> None:
    assert plaintext_credentials_warning(config) is None


async def test_open_store_logs_the_warning_once(caplog: pytest.LogCaptureFixture) -> None:
    config = StoreConfig(endpoints=("http://127.0.0.1:1",), username="root", password="pw")
    with caplog.at_level(logging.WARNING, logger="store.config"):
        store = await open_store(config)
        await store.close()
    lines = [r.getMessage() for r in caplog.records if "unencrypted" in r.getMessage()]
    assert lines == [plaintext_credentials_warning(config)]
