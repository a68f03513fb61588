"""`o2 create env`, typed public variables at `o2 apply`, `o2 describe workflow` and the
DESCRIPTION column of `o2 get workflows -o wide`, against real etcd."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.cli.conftest import O2

TYPED = """\
apiVersion: o2/v1alpha1
kind: TaskClass
metadata: {name: k}
spec: {command: {value: /bin/true}}
---
apiVersion: o2/v1alpha1
kind: Workflow
metadata: {name: typed}
spec:
  description: Readout with typed variables, for tests
  public: true
  variables:
    detectors:
      type: list
      values: [TPC, ITS]
      label: Detectors
      panel: General
      description: Which detectors take part
    rate: {type: number, label: Rate (Hz), panel: Readout, index: 1}
    dcs_enabled: {type: bool, panel: General, index: 2}
  defaults: {detectors: "[]", rate: "100", dcs_enabled: "false"}
  roles:
  - {name: t, task: {class: k}}
"""


@pytest.fixture
def typed(o2: O2, tmp_path: Path) -> O2:
    path = tmp_path / "typed.yaml"
    path.write_text(TYPED)
    result = o2("apply", "-f", str(path))
    assert result.exit_code == 0, result.stderr
    return o2


def stored_env(o2: O2, name: str) -> dict[str, object] | None:
    out = o2.etcdctl("get", o2.key("environments", name), "--print-value-only")
    return json.loads(out) if out.strip() else None


def test_create_env_writes_the_variables_as_given(typed: O2) -> None:
    result = typed(
        "create", "env", "e1", "--workflow", "typed", "--var", 'detectors=["TPC"]',
        "--var", "t:rate=2.5", "--state", "RUNNING", "--run-type", "PHYSICS",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "environment/e1 created\n"
    spec = stored_env(typed, "e1")["spec"]  # type: ignore[index]
    assert spec == {
        "workflow": "typed",
        "vars": {"detectors": '["TPC"]', "t:rate": "2.5"},
        "state": "RUNNING",
        "runType": "PHYSICS",
        "reconfigure": "NextRun",
        "recoverRequest": 0,
        "reclaim": "Manual",
    }


def test_detectors_flag_is_a_json_list(typed: O2) -> None:
    result = typed("create", "env", "e2", "-w", "typed", "--detectors", "TPC, ITS")
    assert result.exit_code == 0, result.stderr
    assert stored_env(typed, "e2")["spec"]["vars"] == {"detectors": '["TPC","ITS"]'}  # type: ignore[index]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--var", "detectors=TPC"], "--var detectors: public variable 'detectors'"),
        (["--var", "detectors=TPC"], 'expected list (a JSON list such as ["TPC","ITS"])'),
        (["--detectors", "TPC,MCH"], "'MCH' not allowed; allowed values: TPC, ITS"),
        (["--var", "rate=fast"], "expected number"),
        (["--var", "dcs_enabled=yes"], "expected bool (true or false), got 'yes'"),
        (["--var", "rate"], "'rate': write NAME=VALUE"),
        (["--var", "detectors=[]", "--detectors", "TPC"], "give the detectors once"),
    ],
)
def test_wrong_values_are_refused_before_anything_is_written(
    typed: O2, args: list[str], expected: str
) -> None:
    result = typed("create", "env", "bad", "-w", "typed", *args)
    assert result.exit_code == 1
    assert expected in " ".join(result.stderr.split())
    assert stored_env(typed, "bad") is None


def test_unknown_workflow_is_refused(o2: O2) -> None:
    result = o2("create", "env", "e3", "-w", "nowhere")
    assert result.exit_code == 1 and "no Workflow 'nowhere'" in result.stderr
    assert stored_env(o2, "e3") is None


def test_dry_run_checks_and_prints_without_writing(typed: O2) -> None:
    result = typed("create", "env", "e4", "-w", "typed", "--detectors", "ITS", "--dry-run",
                   "-o", "yaml")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert yaml.safe_load(result.stdout)["spec"]["vars"] == {"detectors": '["ITS"]'}
    assert stored_env(typed, "e4") is None
    again = typed("create", "env", "e4", "-w", "typed", "--var", "rate=x", "--dry-run")
    assert again.exit_code == 1 and "expected number" in again.stderr


def test_apply_refuses_an_environment_with_a_wrong_public_variable(
    typed: O2, tmp_path: Path
) -> None:
    doc = {
        "apiVersion": "o2/v1alpha1",
        "kind": "Environment",
        "metadata": {"name": "applied"},
        "spec": {"workflow": "typed", "vars": {"rate": "fast"}},
    }
    path = tmp_path / "env.yaml"
    path.write_text(yaml.safe_dump(doc))
    result = typed("apply", "-f", str(path))
    assert result.exit_code == 1
    assert "Environment/applied: spec.vars.rate: public variable 'rate'" in result.stderr
    assert stored_env(typed, "applied") is None
    doc["spec"]["vars"] = {"rate": "{{ 1 + 1 }}"}  # type: ignore[index]
    path.write_text(yaml.safe_dump(doc))
    assert typed("apply", "-f", str(path)).exit_code == 0


def test_describe_workflow_lists_public_variables(typed: O2) -> None:
    result = typed("describe", "workflow", "typed")
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "Readout with typed variables, for tests" in out
    rows = [line.split() for line in out.splitlines()]
    assert ["General", "detectors", "list", "Detectors", "[]", "TPC,", "ITS", "Which",
            "detectors", "take", "part"] in rows  # fmt: skip
    assert ["General", "dcs_enabled", "bool", "<none>", "false", "<none>", "<none>"] in rows
    assert ["Readout", "rate", "number", "Rate", "(Hz)", "100", "<none>", "<none>"] in rows


def test_get_workflows_wide_shows_the_description(typed: O2) -> None:
    result = typed("get", "workflows", "-o", "wide")
    assert result.exit_code == 0, result.stderr
    header, row = result.stdout.splitlines()[:2]
    assert "DESCRIPTION" in header.split()
    assert "Readout with typed variables, for tests" in row
    assert "DESCRIPTION" not in typed("get", "workflows").stdout


def test_invalid_state_or_name_is_an_error_naming_the_field(typed: O2) -> None:
    result = typed("create", "env", "e5", "-w", "typed", "--state", "FLYING")
    assert result.exit_code == 1 and "spec.state" in result.stderr
    assert "unexpected" not in result.stderr
    bad_name = typed("create", "env", "Not_A_Name", "-w", "typed")
    assert bad_name.exit_code == 1 and "metadata.name" in bad_name.stderr
