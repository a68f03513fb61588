"""`o2 edit` against a real etcd, with a scripted $EDITOR: the round trip writes once with the
read resourceVersion; invalid edits and conflicts re-open the file with the error as `#`
lines; unchanged or empty saves cancel."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from cli.editing import editor_argv
from store.embedded import etcd_binary
from tests.cli.conftest import O2
from tests.cli.edit_helpers import edit, env_state, opened, seen, stored, with_samples


@pytest.fixture
def samples(o2: O2) -> O2:
    return with_samples(o2)


def test_edit_round_trip_writes_the_edited_spec_once(samples: O2, tmp_path: Path) -> None:
    before = env_state(samples)
    result = edit(
        samples, tmp_path, [{"replace": [["rate: '200'", "rate: '300'"]]}], "env", "physics-1"
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == "environment/physics-1 edited\n"
    after = env_state(samples)
    assert after["doc"]["spec"]["vars"] == {"detectors": '["TPC"]', "rate": "300"}
    assert after["version"] == before["version"] + 1
    assert after["doc"]["metadata"]["generation"] == before["doc"]["metadata"]["generation"] + 1
    shown = seen(tmp_path, 0)
    assert shown.startswith("# Please edit the object below.")
    assert f"resourceVersion: {before['mod_revision']}" in shown
    assert "status:" not in shown
    assert "uid:" not in shown


def test_edit_of_labels_and_of_another_kind(samples: O2, tmp_path: Path) -> None:
    before = stored(samples, "workflows", "readout-dataflow")
    replace = [
        ["qc_replicas: '1'", "qc_replicas: '2'"],
        ["  name: readout-dataflow\n", "  name: readout-dataflow\n  labels:\n    team: tpc\n"],
    ]
    result = edit(samples, tmp_path, [{"replace": replace}], "workflow", "readout-dataflow")
    assert result.exit_code == 0, result.output
    after = stored(samples, "workflows", "readout-dataflow")
    assert after["doc"]["spec"]["defaults"]["qc_replicas"] == "2"
    assert after["doc"]["metadata"]["labels"] == {"team": "tpc"}
    assert after["version"] == before["version"] + 1


@pytest.mark.parametrize(
    "round_",
    [{}, {"write": ""}, {"write": "# only a comment\n\n"}],
    ids=["unchanged", "empty", "comments"],
)
def test_saving_unchanged_or_empty_cancels(
    samples: O2, tmp_path: Path, round_: dict[str, str]
) -> None:
    before = env_state(samples)
    result = edit(samples, tmp_path, [round_], "env", "physics-1")
    assert result.exit_code == 0
    assert result.stderr.strip() == "Edit cancelled, no changes made."
    assert result.stdout == ""
    assert env_state(samples)["version"] == before["version"]


def test_a_reformatted_file_with_the_same_content_cancels(samples: O2, tmp_path: Path) -> None:
    before = env_state(samples)
    result = edit(
        samples, tmp_path, [{"replace": [["rate: '200'", 'rate: "200"']]}], "env", "physics-1"
    )
    assert result.exit_code == 0
    assert "Edit cancelled, no changes made." in result.stderr
    assert env_state(samples)["version"] == before["version"]


def test_invalid_edit_reopens_with_the_errors_as_comments(samples: O2, tmp_path: Path) -> None:
    before = env_state(samples)
    rounds = [
        {"replace": [["state: RUNNING", "state: FLYING"]]},
        {"replace": [["state: FLYING", "state: DEPLOYED"]]},
    ]
    result = edit(samples, tmp_path, rounds, "env", "physics-1")
    assert result.exit_code == 0, result.output
    assert result.stdout == "environment/physics-1 edited\n"
    again = seen(tmp_path, 1)
    comments = [line for line in again.splitlines() if line.startswith("#")]
    assert "# environment/physics-1 was not valid:" in comments
    assert any("spec.state" in line and "FLYING" in line for line in comments)
    assert "state: FLYING" in again  # the user's edit is kept, not the stored object
    after = env_state(samples)
    assert after["doc"]["spec"]["state"] == "DEPLOYED"
    assert after["version"] == before["version"] + 1


def test_invalid_edit_saved_again_unchanged_is_cancelled_and_kept(
    samples: O2, tmp_path: Path
) -> None:
    before = env_state(samples)
    rounds = [{"replace": [["rate: '200'", "rate: [unclosed"]]}, {}]
    result = edit(samples, tmp_path, rounds, "env", "physics-1")
    assert result.exit_code == 1
    assert "Edit cancelled, no valid changes were saved" in result.stderr
    match = re.search(r"kept in (\S+\.yaml)", result.stderr)
    assert match is not None
    kept = Path(match.group(1))
    try:
        assert "rate: [unclosed" in kept.read_text()
    finally:
        kept.unlink()
    assert any(line.startswith("# * ") for line in seen(tmp_path, 1).splitlines())
    assert env_state(samples)["version"] == before["version"]


@pytest.mark.parametrize(
    ("replace", "field", "message"),
    [
        (
            ["spec:\n", "status:\n  state: RUNNING\nspec:\n"],
            "status",
            "status is written by the controllers",
        ),
        (["name: physics-1", "name: physics-2"], "metadata.name", "renaming is not possible"),
        (["kind: Environment", "kind: Workflow"], "", ""),
    ],
    ids=["status", "rename", "kind"],
)
def test_edits_of_status_name_or_kind_are_refused(
    samples: O2, tmp_path: Path, replace: list[str], field: str, message: str
) -> None:
    before = env_state(samples)
    result = edit(samples, tmp_path, [{"replace": [replace]}, {}], "env", "physics-1")
    assert result.exit_code == 1
    comments = "\n".join(line for line in seen(tmp_path, 1).splitlines() if line.startswith("#"))
    assert "was not valid" in comments
    assert f"{field}: " in comments
    assert message in comments
    assert env_state(samples)["version"] == before["version"]
    for kept in re.findall(r"kept in (\S+\.yaml)", result.stderr):
        Path(kept).unlink()


def _concurrent_put(o2: O2, **new_vars: str) -> list[str]:
    """An etcdctl command writing the Environment with changed vars (another client)."""
    doc = env_state(o2)["doc"]
    doc["spec"]["vars"].update(new_vars)
    key = o2.key("environments", "physics-1")
    return [str(etcd_binary("etcdctl")), f"--endpoints={o2.endpoint}", "put", key, json.dumps(doc)]


def test_conflict_reopens_with_their_changes_and_a_merged_save_keeps_both(
    samples: O2, tmp_path: Path
) -> None:
    rounds: list[dict[str, Any]] = [
        {"run": _concurrent_put(samples, rate="999"), "replace": [['["TPC"]', '["TPC","ITS"]']]},
        {"replace": [["\n    rate: '200'", "\n    rate: '999'"]]},  # not in the comments
    ]
    result = edit(samples, tmp_path, rounds, "env", "physics-1")
    assert result.exit_code == 0, result.output
    assert result.stdout == "environment/physics-1 edited\n"
    reopened = seen(tmp_path, 1)
    comments = [line for line in reopened.splitlines() if line.startswith("#")]
    assert any("was changed by someone else while you edited it" in c for c in comments)
    assert "# -    rate: '200'" in comments
    assert "# +    rate: '999'" in comments
    assert '["TPC","ITS"]' in reopened  # the user's edit is still there
    theirs = re.search(r"resourceVersion (\d+) -> (\d+)", reopened)
    assert theirs is not None
    assert f"resourceVersion: {theirs.group(2)}" in reopened
    after = env_state(samples)
    assert after["doc"]["spec"]["vars"] == {"detectors": '["TPC","ITS"]', "rate": "999"}


def test_after_a_conflict_saving_unchanged_writes_over_theirs_but_counters_never_go_back(
    samples: O2, tmp_path: Path
) -> None:
    theirs = _concurrent_put(samples, rate="999")
    doc = json.loads(theirs[-1])
    doc["spec"]["recoverRequest"] = 1
    theirs[-1] = json.dumps(doc)
    rounds: list[dict[str, Any]] = [
        {"run": theirs, "replace": [["rate: '200'", "rate: '250'"]]},
        {},
    ]
    result = edit(samples, tmp_path, rounds, "env", "physics-1")
    assert result.exit_code == 0, result.output
    assert opened(tmp_path) == 2
    assert "recoverRequest: 0" in seen(tmp_path, 1)
    spec = env_state(samples)["doc"]["spec"]
    assert spec["vars"]["rate"] == "250"
    assert spec["recoverRequest"] == 1


def test_a_failing_editor_aborts_without_writing(samples: O2, tmp_path: Path) -> None:
    before = env_state(samples)
    rounds = [{"replace": [["rate: '200'", "rate: '300'"]], "exit": 1}]
    result = edit(samples, tmp_path, rounds, "env", "physics-1")
    assert result.exit_code == 1
    assert "exited with status 1: nothing was written" in result.stderr
    assert env_state(samples)["version"] == before["version"]


def test_edit_of_a_missing_object_or_kind_is_an_error(o2: O2, tmp_path: Path) -> None:
    missing = edit(o2, tmp_path, [], "env", "nope")
    assert missing.exit_code == 1
    assert "environment/nope not found" in missing.stderr
    assert opened(tmp_path) == 0
    assert edit(o2, tmp_path, [], "flux", "x").exit_code == 1


def test_the_editor_comes_from_o2_editor_then_editor_then_vi_split_like_a_shell() -> None:
    both = {"O2_EDITOR": "code --wait", "EDITOR": "nano"}
    assert editor_argv(both, "/f.yaml") == ["code", "--wait", "/f.yaml"]
    assert editor_argv({"EDITOR": "'my editor' -x"}, "/f.yaml") == ["my editor", "-x", "/f.yaml"]
    assert editor_argv({"O2_EDITOR": " ", "EDITOR": ""}, "/f.yaml") == ["vi", "/f.yaml"]


def test_emptying_the_file_after_an_error_cancels_without_writing(
    samples: O2, tmp_path: Path
) -> None:
    before = env_state(samples)
    rounds: list[dict[str, Any]] = [
        {"replace": [["state: RUNNING", "state: FLYING"]]},
        {"write": ""},
    ]
    result = edit(samples, tmp_path, rounds, "env", "physics-1")
    assert result.exit_code == 0
    assert result.stderr.strip() == "Edit cancelled, no changes made."
    assert env_state(samples)["version"] == before["version"]
