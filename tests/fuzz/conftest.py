"""Fuzz suite hooks: print how many examples each fuzz test ran (CI's fuzzing run count)."""

from __future__ import annotations

import pytest

from tests.fuzz.harness import report_runs


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    report_runs(terminalreporter.write_line)
