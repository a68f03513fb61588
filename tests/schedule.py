"""The order pytest-xdist hands tests out in: the longest first, two at a time per process.

`-n N` (the default `load` distribution) sends tests to the processes in collection order, the
first chunk a quarter of each process's share. The longest tests (`o2 up` restarts, the chaos
soak, the run-number stack test: 25-85 s each) sat at the end of the collection (tests/up sorts
last), so a run ended with one process finishing a long test while the others stood idle. Run
first, each process taking two tests at a time, they overlap with the many short tests instead
and the run ends on short ones (longest-processing-time-first). Test-side only; without xdist,
or with another `--dist`, the order stays pytest's own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

DURATIONS = Path(__file__).with_name("durations.txt")
"""`<seconds> <node id>` lines, longest first. A test missing there keeps its place, a renamed
one is ignored. Tests of a module with a module-scoped fixture stay out: moved alone they would
set it up twice."""


CHUNK = 2
"""Tests a process holds at a time (`--maxschedchunk`); a quarter of its share would hand one
process all the long tests at once."""


LONGEST_FIRST = "o2_longest_first"
"""The key of the test processes' `workerinput` that says to reorder (they see no `--dist`)."""


def pytest_configure(config: pytest.Config) -> None:
    """In the controlling process: small chunks for the default distribution, unless given."""
    xdist = bool(config.pluginmanager.hasplugin("xdist"))
    if xdist and config.getoption("dist") == "load" and config.getoption("maxschedchunk") is None:
        config.option.maxschedchunk = CHUNK


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """Tell a test process to reorder when its tests come two at a time (the xdist hook's node
    is a WorkerController, typed loosely: xdist is optional)."""
    node.workerinput[LONGEST_FIRST] = node.config.getoption("maxschedchunk") == CHUNK


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """In each test process (all collect the same order): the known long tests first."""
    if not getattr(config, "workerinput", {}).get(LONGEST_FIRST):
        return
    rank = {nodeid: index for index, nodeid in enumerate(longest_first())}
    items.sort(key=lambda item: rank.get(item.nodeid, len(rank)))  # stable: the rest keep order


def longest_first() -> list[str]:
    """The node ids of DURATIONS, longest first."""
    rows = [line.split() for line in DURATIONS.read_text().splitlines()]
    timed = [
        (float(row[0]), row[1]) for row in rows if len(row) == 2 and not row[0].startswith("#")
    ]
    return [nodeid for _, nodeid in sorted(timed, key=lambda row: -row[0])]
