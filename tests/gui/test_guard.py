"""Host/Origin allow-list: loopback names on the served port, the listen address, public names."""

from __future__ import annotations

import pytest

from gui.guard import HostPolicy, split_host

PORT = 8080


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("127.0.0.1:8080", ("127.0.0.1", 8080)),
        ("LocalHost", ("localhost", None)),
        ("[::1]:8080", ("::1", 8080)),
        ("o2.example.org.", ("o2.example.org", None)),
        ("evil:port", ("", None)),
    ],
)
def test_split_host(value: str, expected: tuple[str, int | None]) -> None:
    assert split_host(value) == expected


@pytest.mark.parametrize("host", ["127.0.0.1:8080", "localhost:8080", "[::1]:8080"])
def test_loopback_names_on_the_served_port_pass(host: str) -> None:
    assert HostPolicy().allows_host(host, port=PORT)


@pytest.mark.parametrize(
    "host", ["evil.example", "evil.example:8080", "localhost:9090", "localhost", None, ""]
)
def test_other_names_or_ports_are_refused(host: str | None) -> None:
    assert not HostPolicy().allows_host(host, port=PORT)


def test_public_names_with_or_without_port_and_the_listen_address() -> None:
    policy = HostPolicy.build(listen_host="10.1.2.3", public_names=("o2.example.org", "gw:8443"))
    assert policy.allows_host("o2.example.org", port=PORT)
    assert policy.allows_host("O2.example.org:443", port=PORT)
    assert policy.allows_host("gw:8443", port=PORT)
    assert not policy.allows_host("gw:9000", port=PORT)
    assert policy.allows_host("10.1.2.3:8080", port=PORT)
    assert not HostPolicy.build(listen_host="0.0.0.0").allows_host("0.0.0.0:8080", port=PORT)


def test_origin_absent_passes_present_must_name_this_gui() -> None:
    policy = HostPolicy.build(public_names=("o2.example.org",))
    assert policy.allows_origin(None, port=PORT)
    assert policy.allows_origin("http://127.0.0.1:8080", port=PORT)
    assert policy.allows_origin("https://o2.example.org", port=PORT)
    assert not policy.allows_origin("http://evil.example", port=PORT)
    assert not policy.allows_origin("http://localhost:9999", port=PORT)
    assert not policy.allows_origin("null", port=PORT)
