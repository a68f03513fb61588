"""Local cluster configuration: agent specs (flags or a YAML agents file), timers and
authentication. Pure, except the loaders that read the files they are given."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from localmesos.resources import Resources, parse_ranges

DEFAULT_CPUS = 4.0
DEFAULT_MEM = 8192.0
DEFAULT_DISK = 10240.0
DEFAULT_PORTS = "[31000-31999]"


PORT_SLICES = 117
"""100-port slices: 17 in 31000-32699, then 100 in 20000-29999."""
FIRST_SLICE_ENV = "LOCALMESOS_FIRST_PORT_SLICE"
"""Where agent-0's slice starts (default 0): two local clusters on one host (parallel test
processes) given distinct first slices never hand the same port to two tasks."""


def default_ports(index: int) -> str:
    """The port range of the index-th default real agent: a 100-port slice of its own.

    Every local agent shares 127.0.0.1, so equal ranges would hand the same port to tasks on
    two "hosts". Slices start at 31000 and continue from 20000 once 31000-32699 is used up,
    staying below Linux's ephemeral range (32768+); FIRST_SLICE_ENV shifts them all.
    """
    base = slot_port(index + int(os.environ.get(FIRST_SLICE_ENV, "0") or 0))
    return f"[{base}-{base + 99}]"


def slot_port(slot: int) -> int:
    """The first port of 100-port slice number `slot` (modulo PORT_SLICES): 31000-32699, then
    20000-29999."""
    slot %= PORT_SLICES
    return 31000 + 100 * slot if slot < 17 else 20000 + 100 * (slot - 17)


@dataclass(frozen=True)
class AgentSpec:
    """One agent: its hostname, total resources and attributes; hollow agents simulate executors."""

    hostname: str = "localhost"
    cpus: float = DEFAULT_CPUS
    mem: float = DEFAULT_MEM
    disk: float = DEFAULT_DISK
    ports: str = DEFAULT_PORTS
    attributes: dict[str, str | float] = field(default_factory=dict)
    hollow: bool = False

    def resources(self) -> Resources:
        scalars = {"cpus": self.cpus, "mem": self.mem, "disk": self.disk}
        return Resources(
            scalars={k: v for k, v in scalars.items() if v > 0},
            ranges={"ports": parse_ranges(self.ports)},
        )


@dataclass(frozen=True)
class Timers:
    """Every Mesos timer, in seconds; tests shrink them instead of sleeping."""

    heartbeat_interval: float = 15.0
    allocation_interval: float = 1.0
    update_retry_initial: float = 10.0
    update_retry_max: float = 600.0
    executor_shutdown_grace: float = 5.0
    executor_registration_timeout: float = 60.0
    executor_recovery_timeout: float = 900.0
    executor_reregistration_timeout: float = 5.0
    """A restarted cluster's agents wait this long for their executors to re-subscribe before
    they register with the master (Mesos `--executor_reregistration_timeout`, 2 s there; here
    above the executors' 2 s subscription back-off cap on a loaded machine)."""
    hollow_executor_delay: float = 0.0


def agent_from_dict(index: int, raw: Any) -> AgentSpec:
    if not isinstance(raw, dict):
        raise ValueError(f"agents[{index}]: expected a mapping, got {type(raw).__name__}")
    unknown = set(raw) - {"hostname", "resources", "attributes", "hollow"}
    if unknown:
        raise ValueError(f"agents[{index}]: unknown fields {sorted(unknown)}")
    res = raw.get("resources") or {}
    bad = set(res) - {"cpus", "mem", "disk", "ports"}
    if bad:
        raise ValueError(f"agents[{index}].resources: unknown resources {sorted(bad)}")
    attrs = raw.get("attributes") or {}
    if not isinstance(attrs, dict):
        raise ValueError(f"agents[{index}].attributes: expected a mapping")
    hollow = bool(raw.get("hollow", False))
    # A real agent's tasks bind their ports on 127.0.0.1: without a range of its own, each gets
    # its own slice as `--agents N` does. Hollow agents bind nothing and keep the wide range.
    ports = str(res.get("ports", DEFAULT_PORTS if hollow else default_ports(index)))
    try:
        parse_ranges(ports)
    except ValueError as exc:
        raise ValueError(f"agents[{index}].resources.ports: {exc}") from exc
    return AgentSpec(
        hostname=str(raw.get("hostname", "localhost")),
        cpus=float(res.get("cpus", DEFAULT_CPUS)),
        mem=float(res.get("mem", DEFAULT_MEM)),
        disk=float(res.get("disk", DEFAULT_DISK)),
        ports=ports,
        attributes={
            str(k): v if isinstance(v, int | float) and not isinstance(v, bool) else str(v)
            for k, v in attrs.items()
        },
        hollow=hollow,
    )


def load_agents_file(path: Path) -> list[AgentSpec]:
    """A YAML list of `{hostname, resources: {cpus, mem, ports}, attributes: {...}, hollow}`."""
    data = yaml.safe_load(path.read_text())
    if isinstance(data, dict) and "agents" in data:
        data = data["agents"]
    if not isinstance(data, list):
        raise ValueError(f"{path}: expected a list of agents")
    return [agent_from_dict(i, raw) for i, raw in enumerate(data)]


@dataclass(frozen=True)
class AuthConfig:
    """What the cluster enforces; the default (nothing) is Mesos' default too."""

    credentials: dict[str, str] = field(default_factory=dict, repr=False)
    """principal -> secret. Not empty: scheduler calls need HTTP Basic credentials listed here
    (Mesos `--authenticate_frameworks --credentials=FILE`)."""
    authenticate_executors: bool = False
    """Executors get a token in MESOS_EXECUTOR_AUTHENTICATION_TOKEN and must send it as a bearer
    token (Mesos `--authenticate_http_executors`)."""


def load_credentials(path: Path) -> dict[str, str]:
    """Mesos' credentials file: JSON `{"credentials": [{"principal", "secret"}]}`, or text with
    one `principal secret` pair per line."""
    text = path.read_text()
    if text.lstrip().startswith("{"):
        try:
            entries = json.loads(text)["credentials"]
            pairs = {str(e["principal"]): str(e["secret"]) for e in entries}
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(
                f"{path}: expected {{'credentials': [{{principal, secret}}]}}"
            ) from exc
    else:
        pairs = {}
        for number, line in enumerate(text.splitlines(), start=1):
            parts = line.split()
            if not parts or parts[0].startswith("#"):
                continue
            if len(parts) != 2:
                raise ValueError(f"{path}:{number}: expected 'principal secret'")
            pairs[parts[0]] = parts[1]
    if not pairs:
        raise ValueError(f"{path}: no credentials")
    return pairs
