"""The pure parts a new environment is built from: workflow values, inventory, selection."""

from __future__ import annotations

import pytest

from crds.errors import ValidationError
from crds.kinds.environment import EnvironmentStatus
from crds.newenv import (
    build_environment,
    changed_values,
    inventory,
    selection_values,
    workflow_value,
)
from tests.gui.samples import detector_node, environment, workflow


def test_workflow_value_prefers_vars_then_defaults_then_roles() -> None:
    wf = workflow(vars={"n_flp": "3"})
    assert workflow_value(wf, "n_flp") == "3"
    assert workflow_value(wf, "trg_mode") == "continuous"
    assert workflow_value(wf, "nothing") is None


def test_only_values_differing_from_the_workflow_are_kept() -> None:
    given = {"n_flp": "1", "trg_mode": "triggered", "extra": "x"}
    assert changed_values(workflow(), given) == {"trg_mode": "triggered", "extra": "x"}


def test_inventory_names_holders_of_live_environments_only() -> None:
    live = environment("a").model_copy(
        update={"status": EnvironmentStatus(state="RUNNING", detectors=("TPC",))}
    )
    done = environment("b").model_copy(
        update={"status": EnvironmentStatus(state="DONE", detectors=("ITS",))}
    )
    nodes = [detector_node("n2", "TPC"), detector_node("n1", "TPC"), detector_node("n3", "ITS")]
    found = inventory(nodes, [live, done])
    assert found.detectors["TPC"].held_by == "a"
    assert found.detectors["ITS"].held_by == ""
    assert found.hosts_of(["TPC", "ITS", "TPC"]) == ["n1.cern.ch", "n2.cern.ch", "n3.cern.ch"]


def test_selection_is_hosts_when_declared_else_detectors() -> None:
    found = inventory([detector_node("n1", "TPC")], [])
    assert selection_values(workflow(), ["TPC"], found) == {"detectors": '["TPC"]'}
    with_hosts = workflow(vars={"hosts": "[]"})
    assert selection_values(with_hosts, ["TPC"], found) == {"hosts": '["n1.cern.ch"]'}
    assert selection_values(workflow(), [], found) == {}


def test_build_environment_refuses_a_bad_state_naming_the_field() -> None:
    with pytest.raises(ValidationError, match="state"):
        build_environment("x", workflow="w", variables={}, state="FLYING", run_type="NONE")
