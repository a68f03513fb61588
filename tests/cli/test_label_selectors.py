"""`-l` selects on the label keys o2 really sets; deprecated keys still match, with a warning."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from cli.getargs import label_selector
from cli.main import app
from cli.selectors import matches, modern_selector, parse_selector
from crds.errors import ValidationError
from crds.labels import ENV_LABEL, IDLE_LABEL, LABELS, ROLE_LABEL
from tests.environments.helpers import Sim, samples


def test_the_get_help_selector_example_selects_the_sample_environments_tasks() -> None:
    text = CliRunner().invoke(app, ["get", "--help"]).stdout
    found = re.search(r"o2 get tasks -l (\S+)", text)
    assert found is not None, "the get help has no `-l` example"
    selector = parse_selector(found.group(1))
    assert set(selector) <= LABELS
    env, workflow, classes = samples()
    sim = Sim(env, workflow, classes)
    sim.settle()  # the environment controller's plan, as it labels the tasks it creates
    selected = [t.name for t in sim.tasks.values() if matches(t.metadata.labels, selector)]
    assert selected and len(selected) == len(sim.tasks)


def test_a_legacy_key_in_a_selector_is_renamed_with_a_one_line_warning() -> None:
    selector, warning = modern_selector({"o2.environment/name": "physics-1", "app": "tpc"})
    assert selector == {ENV_LABEL: "physics-1", "app": "tpc"}
    assert warning is not None and "\n" not in warning
    assert "o2.environment/name -> o2.dev/environment" in warning


def test_a_modern_selector_passes_unchanged_and_silently() -> None:
    assert modern_selector({ROLE_LABEL: "readout"}) == ({ROLE_LABEL: "readout"}, None)


def test_a_legacy_and_a_modern_key_with_different_values_are_refused() -> None:
    with pytest.raises(ValidationError, match="both given"):
        modern_selector({"o2.idle": "true", IDLE_LABEL: "false"})


def test_matching_accepts_a_legacy_key_against_migrated_labels() -> None:
    assert matches({IDLE_LABEL: "true"}, {"o2.idle": "true"})
    assert not matches({IDLE_LABEL: "true"}, {"o2.idle": "false"})


def test_get_warns_on_stderr_for_a_legacy_selector_key(capsys: pytest.CaptureFixture[str]) -> None:
    assert label_selector("o2.role=flp.readout") == {ROLE_LABEL: "flp.readout"}
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and "deprecated" in captured.err
