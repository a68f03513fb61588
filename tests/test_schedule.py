"""The longest-first test order (tests/schedule.py): its table names real tests, and a test
process told to reorder puts them first, keeping every test and the others' order."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pytest

from tests.schedule import LONGEST_FIRST, longest_first, pytest_collection_modifyitems

REPO = Path(__file__).resolve().parents[1]


def test_every_listed_test_still_exists() -> None:
    """A renamed test would silently lose its early start."""
    listed = longest_first()
    assert len(listed) > 20 and len(set(listed)) == len(listed)
    for nodeid in listed:
        path, name = nodeid.split("::")
        text = (REPO / path).read_text()
        function = re.sub(r"\[.*\]$", "", name)
        assert re.search(rf"^(async )?def {function}\(", text, re.M), f"{nodeid} not found"


@dataclass
class FakeItem:
    nodeid: str


@dataclass
class FakeConfig:
    workerinput: dict[str, object] = field(default_factory=dict)


def reorder(config: FakeConfig, nodeids: list[str]) -> list[str]:
    items = [FakeItem(nodeid) for nodeid in nodeids]
    pytest_collection_modifyitems(cast(pytest.Config, config), cast(list[Any], items))
    return [item.nodeid for item in items]


def test_a_test_process_told_to_reorder_runs_the_longest_first_and_the_rest_in_order() -> None:
    longest, second = longest_first()[:2]
    collected = ["tests/a.py::one", second, "tests/a.py::two", longest, "tests/b.py::three"]
    told = FakeConfig(workerinput={LONGEST_FIRST: True})
    assert reorder(told, collected) == [
        longest,
        second,
        "tests/a.py::one",
        "tests/a.py::two",
        "tests/b.py::three",
    ]
    assert reorder(FakeConfig(), collected) == collected  # the controller, or no xdist
    assert reorder(FakeConfig(workerinput={LONGEST_FIRST: False}), collected) == collected
