"""status.roles: counts per expanded role path, or per template above ROLE_SUMMARY_LIMIT paths
(in the order of the expansion, then of the tasks; states in the order they first appear)."""

from __future__ import annotations

from collections import Counter
from types import SimpleNamespace
from typing import Any

import pytest

from controller.environments import status
from controller.environments.status import ROLE_SUMMARY_LIMIT, role_summaries


def _expansion(paths: list[tuple[str, str]]) -> Any:
    tasks = {p: SimpleNamespace(path=p, template=t) for p, t in paths}
    return SimpleNamespace(tasks=tasks)


def _tasks(roles: list[str]) -> list[Any]:
    return [SimpleNamespace(spec=SimpleNamespace(role=r)) for r in roles]


def test_few_paths_are_counted_each() -> None:
    expansion = _expansion([("a.x", "a.x"), ("a.y", "a.y"), ("b", "b")])
    roles = ["a.y", "a.x", "a.y", "stray"]
    states = ["RUNNING", "STANDBY", "ERROR", "RUNNING"]
    got = role_summaries(expansion, _tasks(roles), states=states)
    assert [(r.path, r.tasks, r.states) for r in got] == [
        ("a.x", 1, {"STANDBY": 1}),
        ("a.y", 2, {"RUNNING": 1, "ERROR": 1}),
        ("b", 0, {}),
        ("stray", 1, {"RUNNING": 1}),
    ]


def test_many_paths_are_counted_per_template() -> None:
    n = ROLE_SUMMARY_LIMIT + 10
    paths = [(f"flp-{i}.readout", "flp-{{ d }}.readout") for i in range(n)]
    paths += [(f"flp-{i}.stfb", "flp-{{ d }}.stfb") for i in range(n)]
    roles = [p for p, _ in paths][::-1]
    states = ["STANDBY" if i % 3 else "RUNNING" for i in range(len(roles))]
    got = role_summaries(_expansion(paths), _tasks(roles), states=states)
    assert [r.path for r in got] == ["flp-{{ d }}.readout", "flp-{{ d }}.stfb"]
    assert [r.tasks for r in got] == [n, n]
    assert sum(sum(r.states.values()) for r in got) == 2 * n
    assert got[1].states == {"RUNNING": 70, "STANDBY": 140}  # the stfb tasks come first
    assert list(got[1].states) == ["RUNNING", "STANDBY"]


def test_many_paths_make_one_counter_per_template(monkeypatch: pytest.MonkeyPatch) -> None:
    """A pass over 10,000 tasks made one Counter per expanded path (10,000) to keep two."""
    made: list[object] = []

    class Counting(Counter[str]):
        def __init__(self, *args: Any) -> None:
            made.append(self)
            super().__init__(*args)

    monkeypatch.setattr(status, "Counter", Counting)
    n = 5_000
    paths = [(f"flp-{i}.readout", "flp-{{ d }}.readout") for i in range(n)]
    paths += [(f"flp-{i}.stfb", "flp-{{ d }}.stfb") for i in range(n)]
    roles = [p for p, _ in paths]
    got = role_summaries(_expansion(paths), _tasks(roles), states=["RUNNING"] * len(roles))
    assert [(r.path, r.tasks) for r in got] == [("flp-{{ d }}.readout", n), ("flp-{{ d }}.stfb", n)]
    assert len(made) < 10  # per template and (template, state) pair, not per path
