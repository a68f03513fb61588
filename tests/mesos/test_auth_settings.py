"""Mesos credentials and TLS settings: where the secret may come from, and what is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.__main__ import parse_args
from mesosapi.auth import (
    Credentials,
    MesosAccess,
    base_url,
    parse_basic,
    plaintext_credentials_warning,
)


def _secret_file(tmp_path: Path, mode: int) -> Path:
    path = tmp_path / "mesos-secret"
    path.write_text("s3cret\n")
    path.chmod(mode)
    return path


def test_principal_and_secret_from_the_environment_become_basic_credentials() -> None:
    env = {"O2_MESOS": "https://m1:5050", "O2_MESOS_PRINCIPAL": "o2", "O2_MESOS_SECRET": "pw"}
    access = parse_args([], env=env).settings.tasks.access
    assert access.credentials == Credentials("o2", "pw")
    assert parse_basic(access.headers()["Authorization"]) == ("o2", "pw")
    assert "pw" not in repr(access)


def test_a_secret_file_others_may_read_is_refused_naming_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = _secret_file(tmp_path, 0o644)
    with pytest.raises(SystemExit):
        parse_args(["--mesos-principal", "o2", "--mesos-secret-file", str(secret)], env={})
    err = capsys.readouterr().err
    assert str(secret) in err and "chmod 600" in err


def test_a_secret_given_on_the_command_line_is_not_a_flag(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        parse_args(["--mesos-principal", "o2", "--mesos-secret", "pw"], env={})
    assert "pw" not in capsys.readouterr().out


def test_principal_without_secret_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse_args(["--mesos-principal", "o2"], env={})
    assert "give both or neither" in capsys.readouterr().err


def test_an_unknown_scheme_is_refused_rather_than_taken_as_plain_http(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        parse_args(["--mesos", "htps://m1:5050"], env={})
    assert "--mesos / $O2_MESOS" in capsys.readouterr().err


def test_defaults_stay_anonymous_plain_http() -> None:
    tasks = parse_args(["--mesos", "127.0.0.1:5050"], env={}).settings.tasks
    assert tasks.access == MesosAccess()
    assert base_url(tasks.masters[0]) == "http://127.0.0.1:5050"


def test_credentials_over_plain_http_are_warned_about_naming_principal_and_master() -> None:
    access = MesosAccess(Credentials("o2", "pw"))
    message = plaintext_credentials_warning(["m1:5050", "https://m2:5050"], access)
    assert message is not None and "'o2'" in message and "http://m1:5050" in message
    assert "m2" not in message and "pw" not in message
    assert plaintext_credentials_warning(["https://m2:5050"], access) is None
    assert plaintext_credentials_warning(["m1:5050"], MesosAccess()) is None


def test_a_leader_redirect_from_an_https_master_stays_https() -> None:
    from controller.mesos.client import leader_from_location

    assert leader_from_location("//m2:5050/api", "https://m1:5050") == "https://m2:5050"
    assert leader_from_location("//m2:5050/api", "m1:5050") == "m2:5050"


def test_executor_environment_carries_the_token_hidden_and_the_agent_scheme() -> None:
    from mesosapi.executor import ExecutorEnvironment

    base = {"MESOS_AGENT_ENDPOINT": "10.0.0.7:5051", "MESOS_FRAMEWORK_ID": "f"}
    base["MESOS_EXECUTOR_ID"] = "e"
    plain = ExecutorEnvironment.from_env(base)
    assert (plain.agent_url, plain.authentication_token) == ("http://10.0.0.7:5051", None)
    env = ExecutorEnvironment.from_env(
        {
            **base,
            "MESOS_EXECUTOR_AUTHENTICATION_TOKEN": "jwt-value",
            "LIBPROCESS_SSL_ENABLED": "true",
            "LIBPROCESS_SSL_CA_FILE": "/ca.pem",
        }
    )
    assert (env.agent_url, env.ca_file) == ("https://10.0.0.7:5051", "/ca.pem")
    assert env.authentication_token == "jwt-value" and "jwt-value" not in repr(env)
