"""Pilot settings from `--pilot-*` flags and `$O2_PILOT_*`: the restart back-off."""

from __future__ import annotations

from controller.pilots.backoff import delay
from controller.settings import Settings


def test_back_off_defaults_are_those_of_kubernetes_crash_loop_back_off() -> None:
    s = Settings.load({}, {}).pilots
    assert (s.backoff_base, s.backoff_max, s.backoff_reset) == (10, 300, 600)
    assert [delay(k, s) for k in range(0, 8)] == [0, 10, 20, 40, 80, 160, 300, 300]
    assert delay(10_000, s) == 300


def test_back_off_is_set_by_environment_or_flags_and_flags_win_even_when_zero() -> None:
    env = {
        "O2_PILOT_BACKOFF_BASE": "0.5",
        "O2_PILOT_BACKOFF_MAX": "2",
        "O2_PILOT_BACKOFF_RESET": "5",
    }
    s = Settings.load({}, env).pilots
    assert (s.backoff_base, s.backoff_max, s.backoff_reset) == (0.5, 2, 5)
    off = Settings.load({"pilot_backoff_base": "0"}, env).pilots
    assert off.backoff_base == 0 and delay(3, off) == 0
    assert Settings.load({"pilot_reclaim": "off"}, {}).pilots.reclaim is False
    assert Settings.load({}, {"O2_PILOT_RECLAIM": "no"}).pilots.reclaim is False
    assert Settings.load({}, {}).pilots.reclaim is True
