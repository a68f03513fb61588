"""`o2 patch` and `o2 set var|detectors` against a real etcd: one CAS write each (the key's
etcd version and the generation advance by one), the diff printed, refusals write nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.cli.conftest import O2
from tests.cli.edit_helpers import env_state, with_samples


@pytest.fixture
def samples(o2: O2) -> O2:
    return with_samples(o2)


def _one_write(before: dict[str, Any], after: dict[str, Any]) -> None:
    assert after["version"] == before["version"] + 1
    generation = before["doc"]["metadata"]["generation"]
    assert after["doc"]["metadata"]["generation"] == generation + 1


def test_merge_patch_writes_once_and_prints_the_diff(samples: O2) -> None:
    before = env_state(samples)
    result = samples("patch", "env", "physics-1", "-p", '{"spec": {"vars": {"rate": "500"}}}')
    assert result.exit_code == 0, result.output
    assert "--- environment/physics-1 (live)\n+++ environment/physics-1 (new)\n" in result.stdout
    assert "-    rate: '200'\n+    rate: '500'\n" in result.stdout
    assert result.stdout.endswith("environment/physics-1 patched\n")
    after = env_state(samples)
    assert after["doc"]["spec"]["vars"]["rate"] == "500"
    _one_write(before, after)


def test_merge_patch_null_removes_and_labels_are_patchable(samples: O2) -> None:
    patch = '{"spec": {"vars": {"rate": null}}, "metadata": {"labels": {"team": "tpc"}}}'
    result = samples("patch", "env", "physics-1", "--type", "merge", "-p", patch)
    assert result.exit_code == 0, result.output
    doc = env_state(samples)["doc"]
    assert doc["spec"]["vars"] == {"detectors": '["TPC"]'}
    assert doc["metadata"]["labels"] == {"team": "tpc"}


def test_json_patch_with_a_passing_test_op_writes_once(samples: O2) -> None:
    before = env_state(samples)
    ops = [
        {"op": "test", "path": "/metadata/resourceVersion", "value": before["mod_revision"]},
        {"op": "replace", "path": "/spec/vars/rate", "value": "100"},
        {"op": "add", "path": "/spec/vars/qc_replicas", "value": "2"},
    ]
    result = samples("patch", "env", "physics-1", "--type", "json", "-p", json.dumps(ops))
    assert result.exit_code == 0, result.output
    after = env_state(samples)
    assert after["doc"]["spec"]["vars"] == {
        "detectors": '["TPC"]',
        "rate": "100",
        "qc_replicas": "2",
    }
    _one_write(before, after)


def test_a_failing_json_patch_test_op_writes_nothing(samples: O2) -> None:
    before = env_state(samples)
    ops = [
        {"op": "replace", "path": "/spec/vars/rate", "value": "100"},
        {"op": "test", "path": "/spec/state", "value": "STANDBY"},
    ]
    result = samples("patch", "env", "physics-1", "--type", "json", "-p", json.dumps(ops))
    assert result.exit_code == 1
    assert '-p[1]: test /spec/state: test failed: /spec/state is "RUNNING"' in result.stderr
    assert result.stdout == ""
    assert env_state(samples)["version"] == before["version"]


@pytest.mark.parametrize(
    ("patch_type", "patch"),
    [
        ("merge", '{"status": {"state": "RUNNING"}}'),
        ("json", '[{"op": "replace", "path": "/status/state", "value": "RUNNING"}]'),
        ("json", '[{"op": "remove", "path": "/status"}]'),
        ("json", '[{"op": "move", "from": "/status/state", "path": "/spec/vars/x"}]'),
    ],
)
def test_patching_status_is_refused(samples: O2, patch_type: str, patch: str) -> None:
    before = env_state(samples)
    result = samples("patch", "env", "physics-1", "--type", patch_type, "-p", patch)
    assert result.exit_code == 1
    assert "status is written by the controllers" in result.stderr
    assert env_state(samples)["version"] == before["version"]


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ('{"metadata": {"uid": "other"}}', "metadata.uid"),
        ('{"metadata": {"resourceVersion": 1}}', "metadata.resourceVersion"),
        ('{"metadata": {"name": "physics-2"}}', "metadata.name"),
        ('{"kind": "Workflow"}', "kind"),
        ('{"spec": {"state": "FLYING"}}', "spec.state"),
        ('{"spec": {"recoverRequest": -1}}', "spec.recoverRequest"),
    ],
)
def test_patches_of_server_fields_or_invalid_values_name_the_field(
    samples: O2, patch: str, field: str
) -> None:
    before = env_state(samples)
    result = samples("patch", "env", "physics-1", "-p", patch)
    assert result.exit_code == 1
    assert "environment/physics-1" in result.stderr or "Environment/physics-1" in result.stderr
    assert f"{field}: " in result.stderr
    assert env_state(samples)["version"] == before["version"]


def test_patch_without_change_and_dry_run_write_nothing(samples: O2) -> None:
    before = env_state(samples)
    same = samples("patch", "env", "physics-1", "-p", '{"spec": {"vars": {"rate": "200"}}}')
    assert same.exit_code == 0
    assert same.stdout == "environment/physics-1 patched (no change)\n"
    dry = samples("patch", "env", "physics-1", "--dry-run", "-p", '{"spec": {"state": "DEPLOYED"}}')
    assert dry.exit_code == 0
    assert "-  state: RUNNING\n+  state: DEPLOYED\n" in dry.stdout
    assert dry.stdout.endswith("environment/physics-1 patched (dry run)\n")
    assert env_state(samples)["version"] == before["version"]


def test_patch_usage_errors_exit_2_and_bad_json_exits_1(samples: O2) -> None:
    assert samples("patch", "env", "physics-1", "--type", "strategic", "-p", "{}").exit_code == 2
    assert samples("patch", "env", "physics-1").exit_code == 2
    bad = samples("patch", "env", "physics-1", "-p", "{spec: 1")
    assert bad.exit_code == 1
    assert "not JSON" in bad.stderr
    assert samples("patch", "env", "nope", "-p", "{}").exit_code == 1


# ---- set var / set detectors -------------------------------------------------------------


def test_set_var_sets_and_removes_in_one_write(samples: O2) -> None:
    before = env_state(samples)
    result = samples("set", "var", "physics-1", "qc_replicas=2", "note=a=b", "rate-")
    assert result.exit_code == 0, result.output
    assert "-    rate: '200'\n" in result.stdout
    assert "+    qc_replicas: '2'\n" in result.stdout
    assert result.stdout.endswith("environment/physics-1 configured\n")
    after = env_state(samples)
    assert after["doc"]["spec"]["vars"] == {
        "detectors": '["TPC"]',
        "qc_replicas": "2",
        "note": "a=b",
    }
    _one_write(before, after)


def test_set_var_refusals_and_no_change_write_nothing(samples: O2) -> None:
    before = env_state(samples)
    bad = samples("set", "var", "physics-1", "rate")
    assert bad.exit_code == 1
    assert "'rate' is neither key=value (set) nor key- (remove)" in bad.stderr
    same = samples("set", "var", "physics-1", "rate=200", "absent-")
    assert same.stdout == "environment/physics-1 configured (no change)\n"
    dry = samples("set", "var", "physics-1", "rate=1", "--dry-run")
    assert dry.stdout.endswith("environment/physics-1 configured (dry run)\n")
    assert env_state(samples)["version"] == before["version"]


@pytest.mark.parametrize(
    "args",
    [
        ["+MCH", "-TPC", "+ITS"],
        ["--", "+MCH", "-TPC", "+ITS"],
        ["-TPC", "--dry-run", "+MCH", "+ITS"],
    ],
    ids=["no-dashes", "double-dash", "options-between"],
)
def test_set_detectors_adds_and_removes_with_or_without_double_dash(
    samples: O2, args: list[str]
) -> None:
    before = env_state(samples)
    result = samples("set", "detectors", "physics-1", *args)
    assert result.exit_code == 0, result.output
    assert """-    detectors: '["TPC"]'\n+    detectors: '["MCH","ITS"]'\n""" in result.stdout
    after = env_state(samples)
    if "--dry-run" in args:
        assert after["version"] == before["version"]
        return
    assert after["doc"]["spec"]["vars"]["detectors"] == '["MCH","ITS"]'
    _one_write(before, after)


def test_set_detectors_bare_names_replace_and_absent_removals_warn(samples: O2) -> None:
    replaced = samples("set", "detectors", "physics-1", "ITS", "TPC", "ITS")
    assert replaced.exit_code == 0, replaced.output
    assert env_state(samples)["doc"]["spec"]["vars"]["detectors"] == '["ITS","TPC"]'
    before = env_state(samples)
    absent = samples("set", "detectors", "physics-1", "-ZDC")
    assert absent.exit_code == 0
    assert "ZDC is not among the detectors of environment/physics-1" in absent.stderr
    assert absent.stdout == "environment/physics-1 configured (no change)\n"
    mixed = samples("set", "detectors", "physics-1", "TPC", "+ITS")
    assert mixed.exit_code == 1
    assert "bare names replace the list" in mixed.stderr
    assert env_state(samples)["version"] == before["version"]


def test_set_detectors_reads_a_comma_separated_value(samples: O2) -> None:
    assert samples("set", "var", "physics-1", "detectors=TPC, ITS").exit_code == 0
    result = samples("set", "detectors", "physics-1", "+MCH")
    assert result.exit_code == 0, result.output
    assert env_state(samples)["doc"]["spec"]["vars"]["detectors"] == '["TPC","ITS","MCH"]'


def test_set_checks_the_workflows_public_variables(samples: O2) -> None:
    workflow = {
        "apiVersion": "o2/v1alpha1",
        "kind": "Workflow",
        "metadata": {"name": "readout-dataflow"},
        "spec": {
            "defaults": {"detectors": '["TPC"]'},
            "variables": {"detectors": {"type": "list", "values": ["TPC", "ITS"]}},
            "roles": [{"name": "qc", "task": {"class": "qc"}}],
        },
    }
    assert samples("apply", "-f", "-", stdin=json.dumps(workflow)).exit_code == 0
    before = env_state(samples)
    refused = samples("set", "detectors", "physics-1", "+ZDC")
    assert refused.exit_code == 1
    assert "spec.vars" in refused.stderr or "detectors" in refused.stderr
    assert "'ZDC' not allowed" in refused.stderr
    assert env_state(samples)["version"] == before["version"]
    assert samples("set", "detectors", "physics-1", "+ITS").exit_code == 0


def test_patch_never_takes_a_counter_backwards(samples: O2) -> None:
    assert (
        samples("patch", "env", "physics-1", "-p", '{"spec": {"recoverRequest": 2}}').exit_code == 0
    )
    back = samples("patch", "env", "physics-1", "-p", '{"spec": {"recoverRequest": 0}}')
    assert back.stdout == "environment/physics-1 patched (no change)\n"
    assert env_state(samples)["doc"]["spec"]["recoverRequest"] == 2


def test_set_detectors_starts_from_the_workflows_value_when_env_leaves_it_out(samples: O2) -> None:
    assert samples("set", "var", "physics-1", "detectors-").exit_code == 0
    before = env_state(samples)
    absent = samples("set", "detectors", "physics-1", "-ZDC")
    assert absent.stdout == "environment/physics-1 configured (no change)\n"
    assert env_state(samples)["version"] == before["version"]
    added = samples("set", "detectors", "physics-1", "+MCH")
    assert added.exit_code == 0, added.output
    assert """+    detectors: '["TPC","ITS","MCH"]'""" in added.stdout
    assert env_state(samples)["doc"]["spec"]["vars"]["detectors"] == '["TPC","ITS","MCH"]'
