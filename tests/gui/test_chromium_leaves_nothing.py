"""The tests' Chromium keeps its temporary files in its profile, which its stop removes: killed
(as every test run stops it), it left a /tmp/org.chromium.Chromium.* directory each time."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.gui.cdp import Chromium, find_chromium


@pytest.mark.skipif(find_chromium() is None, reason="chromium is not installed")
def test_a_stopped_chromium_leaves_no_temporary_directory() -> None:
    chromium = Chromium()
    try:
        chromium.ensure_started()
        profile = chromium._profile
        assert profile is not None
        own = Path(profile.name)
        assert list(own.glob("org.chromium.Chromium.*")), "its temporary files are elsewhere"
    finally:
        chromium.stop()
    assert not own.exists()
