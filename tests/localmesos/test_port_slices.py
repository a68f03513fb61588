"""Agents' default port slices: distinct per agent, and per test process when two local
clusters share the host (a task's OCC port taken by the other cluster's task failed it)."""

from __future__ import annotations

import pytest

from localmesos.config import FIRST_SLICE_ENV, PORT_SLICES, default_ports
from localmesos.resources import parse_ranges


def ports(spec: str) -> set[int]:
    return {p for begin, end in parse_ranges(spec) for p in range(begin, end + 1)}


def cluster_ports(agents: int) -> set[int]:
    return set().union(*(ports(default_ports(i)) for i in range(agents)))


def test_agents_of_one_cluster_never_share_a_port() -> None:
    slices = [ports(default_ports(i)) for i in range(PORT_SLICES)]
    assert sum(map(len, slices)) == len(set().union(*slices)) == 100 * PORT_SLICES
    assert all(p < 32768 for s in slices for p in s)  # below Linux's ephemeral range


def test_two_test_processes_clusters_of_forty_agents_never_share_a_port(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(FIRST_SLICE_ENV, "0")
    first = cluster_ports(40)
    monkeypatch.setenv(FIRST_SLICE_ENV, str(PORT_SLICES // 2))
    second = cluster_ports(40)
    assert not first & second
