"""The local cluster as a real subprocess, for the o2 executor program tests."""

from __future__ import annotations

from tests.mesos_fixture import localmesos_factory

__all__ = ["localmesos_factory"]
