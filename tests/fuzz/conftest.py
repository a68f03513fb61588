"""Fuzz suite hooks: print how many examples each fuzz test ran (CI's fuzzing run count).

The counts are taken where the test runs (a pytest-xdist worker or this process), travel with
the test's report as a user property, and are added up where the reports arrive, so the total
is the same whether the suite runs in one process or several."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest

from tests.fuzz.harness import RUNS, report_runs

PROPERTY = "fuzz_runs"
REPORTED: Counter[str] = Counter()
"""Examples per fuzz test, from the reports (every process's)."""


@pytest.fixture(autouse=True)
def _count_runs(request: pytest.FixtureRequest) -> Iterator[None]:
    before = Counter(RUNS)
    yield
    ran = {name: n - before[name] for name, n in RUNS.items() if n > before[name]}
    if ran:
        request.node.user_properties.append((PROPERTY, ran))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when != "teardown":
        return
    for key, value in report.user_properties:
        if key == PROPERTY and isinstance(value, dict):
            REPORTED.update(value)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    report_runs(terminalreporter.write_line, REPORTED)
