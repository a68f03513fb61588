"""The farm's systemd units run o2 sandboxed: what each service may touch is listed, the rest of
the machine is read-only or hidden."""

from __future__ import annotations

from pathlib import Path

import pytest

FARM = Path(__file__).resolve().parents[2] / "manifests" / "farm"
UNITS = sorted(FARM.glob("*.service"))

SANDBOX = {
    "NoNewPrivileges": "yes",
    "CapabilityBoundingSet": "",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "ProtectKernelTunables": "yes",
    "ProtectControlGroups": "yes",
    "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
    "RestrictSUIDSGID": "yes",
    "LockPersonality": "yes",
    "UMask": "0077",
}


def service_settings(unit: Path) -> dict[str, str]:
    """`Key=Value` lines of the [Service] section (continuation lines and comments skipped)."""
    settings: dict[str, str] = {}
    section = ""
    for line in unit.read_text().splitlines():
        if line.startswith("["):
            section = line.strip()
        elif section == "[Service]" and "=" in line and not line.startswith(("#", " ")):
            key, _, value = line.partition("=")
            settings[key] = value
    return settings


def test_both_units_are_checked() -> None:
    assert {unit.name for unit in UNITS} == {"o2-controller.service", "o2-gui.service"}


@pytest.mark.parametrize("unit", UNITS, ids=lambda unit: unit.name)
def test_unit_is_sandboxed(unit: Path) -> None:
    settings = service_settings(unit)
    missing = {k: v for k, v in SANDBOX.items() if settings.get(k) != v}
    assert not missing, f"{unit.name}: expected {missing}"


def test_controller_may_write_only_its_data_dir() -> None:
    settings = service_settings(FARM / "o2-controller.service")
    assert "--data-dir /var/lib/o2" in (FARM / "o2-controller.service").read_text()
    assert settings["ReadWritePaths"] == "/var/lib/o2"
    assert settings["Environment"] == "HOME=/var/lib/o2"


def test_gui_writes_nowhere() -> None:
    assert "ReadWritePaths" not in service_settings(FARM / "o2-gui.service")
