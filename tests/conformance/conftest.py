"""Fixtures: the local Mesos cluster as a subprocess (see tests/mesos_fixture.py)."""

from tests.mesos_fixture import localmesos, localmesos_factory

__all__ = ["localmesos", "localmesos_factory"]
