"""Pure parts: agents file parsing and resource arithmetic."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from localmesos.config import (
    FIRST_SLICE_ENV,
    AgentSpec,
    default_ports,
    load_agents_file,
    slot_port,
)
from localmesos.resources import Resources, merge_ranges, parse_ranges, subtract_ranges


def test_agents_file_gives_hostnames_resources_attributes_and_defaults(tmp_path: Path) -> None:
    path = tmp_path / "agents.yaml"
    path.write_text(
        "- hostname: flp-1\n"
        "  resources: {cpus: 8, mem: 16384, ports: '[30000-30099]'}\n"
        "  attributes: {machine_id: 12, detector: TPC}\n"
        "- hostname: epn-1\n"
        "  hollow: true\n"
    )
    flp, epn = load_agents_file(path)
    assert flp == AgentSpec(
        hostname="flp-1",
        cpus=8,
        mem=16384,
        ports="[30000-30099]",
        attributes={"machine_id": 12, "detector": "TPC"},
    )
    assert flp.resources().ranges == {"ports": ((30000, 30099),)}
    assert (epn.cpus, epn.mem, epn.ports, epn.hollow) == (4.0, 8192.0, "[31000-31999]", True)


def test_real_agents_without_ports_get_their_own_slice_of_this_process_share(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression (CI): a real agent without `ports` used to offer 31000-31999, the slices that
    other test processes' clusters own, so a task found its OCC port taken ("OCC port 31900 is
    already in use on this host"). It gets the slice `--agents N` gives its position."""
    monkeypatch.setenv(FIRST_SLICE_ENV, "40")
    path = tmp_path / "agents.yaml"
    path.write_text("- hostname: flp-1\n- hostname: flp-2\n- {hostname: epn-1, hollow: true}\n")
    flp1, flp2, epn = load_agents_file(path)
    assert (flp1.ports, flp2.ports) == (default_ports(0), default_ports(1))
    assert flp1.ports == f"[{slot_port(40)}-{slot_port(40) + 99}]"
    assert flp2.ports == f"[{slot_port(41)}-{slot_port(41) + 99}]"
    assert epn.ports == "[31000-31999]"


@pytest.mark.parametrize(
    "text, error",
    [
        ("- {hostname: a, resources: {gpus: 1}}", "agents[0].resources: unknown resources"),
        ("- {hostname: a, resources: {ports: 'many'}}", "agents[0].resources.ports"),
        ("- {hostname: a, colour: red}", "agents[0]: unknown fields"),
        ("hostname: a", "expected a list of agents"),
    ],
)
def test_bad_agents_file_names_the_field(tmp_path: Path, text: str, error: str) -> None:
    path = tmp_path / "agents.yaml"
    path.write_text(text)
    with pytest.raises(ValueError, match=error.replace("[", r"\[").replace("]", r"\]")):
        load_agents_file(path)


def test_resources_subtract_ports_and_scalars() -> None:
    total = Resources({"cpus": 4.0, "mem": 100.0}, {"ports": parse_ranges("[31000-31009]")})
    task = Resources.from_json(
        [
            {"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.1}},
            {
                "name": "ports",
                "type": "RANGES",
                "ranges": {"range": [{"begin": 31002, "end": 31003}]},
            },
        ]
    )
    left = total - task
    assert left.scalars == {"cpus": 3.9, "mem": 100.0}
    assert left.ranges == {"ports": ((31000, 31001), (31004, 31009))}
    assert total.contains(task) and not left.contains(task)
    assert (left + task) == total


ranges = st.lists(
    st.tuples(st.integers(0, 200), st.integers(0, 30)).map(lambda p: (p[0], p[0] + p[1])),
    max_size=6,
)


@given(ranges, ranges)
def test_range_subtraction_matches_set_semantics(
    have: list[tuple[int, int]], take: list[tuple[int, int]]
) -> None:
    def points(rs: tuple[tuple[int, int], ...]) -> set[int]:
        return {p for b, e in rs for p in range(b, e + 1)}

    left = subtract_ranges(merge_ranges(have), merge_ranges(take))
    assert points(left) == points(merge_ranges(have)) - points(merge_ranges(take))
