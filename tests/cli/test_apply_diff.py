"""apply / diff end to end against real etcd, checked from outside with etcdctl."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import yaml

from tests.cli.conftest import O2, SAMPLES, lines

SAMPLE_DOCS = [
    d
    for f in sorted(SAMPLES.rglob("*.yaml"))
    for d in yaml.safe_load_all(f.read_text())
    if d is not None
]

PLURALS = {
    "TaskClass": "taskclasses",
    "Workflow": "workflows",
    "Environment": "environments",
    "Task": "tasks",
    "Node": "nodes",
    "GitSource": "gitsources",
    "ComponentConfig": "componentconfigs",
    "Event": "events",
}

GOOD_TC = """\
apiVersion: o2/v1alpha1
kind: TaskClass
metadata: {name: good-one}
spec:
  command: {value: /bin/true}
"""

BAD_TC = """\
apiVersion: o2/v1alpha1
kind: TaskClass
metadata: {name: bad-one}
spec:
  command: {value: /bin/true}
  wants: {cpus: -1}
"""


def registry(o2: O2) -> dict[str, dict[str, object]]:
    """Every registry key under this prefix -> its JSON value, read with etcdctl."""
    out = o2.etcdctl("get", "--prefix", f"{o2.prefix}/registry/", "-w", "json")
    kvs = json.loads(out).get("kvs") or []
    return {
        base64.b64decode(kv["key"]).decode(): json.loads(base64.b64decode(kv["value"]))
        for kv in kvs
    }


def test_apply_samples_writes_one_json_per_object_at_the_documented_keys(o2: O2) -> None:
    result = o2("apply", "-f", str(SAMPLES))
    assert result.exit_code == 0, result.stderr
    assert len(lines(result.stdout)) == len(SAMPLE_DOCS)
    assert all(line.endswith(" created") for line in lines(result.stdout))
    stored = registry(o2)
    expected = {o2.key(PLURALS[d["kind"]], d["metadata"]["name"]): d["kind"] for d in SAMPLE_DOCS}
    assert {k: v["kind"] for k, v in stored.items()} == expected
    assert all("resourceVersion" not in v["metadata"] for v in stored.values())  # type: ignore[operator]


def test_apply_orders_taskclasses_and_workflows_before_environments(o2: O2) -> None:
    result = o2("apply", "-f", str(SAMPLES))
    kinds = [line.split("/")[0] for line in lines(result.stdout)]
    assert kinds.index("environment") > max(
        i for i, k in enumerate(kinds) if k in ("taskclass", "workflow")
    )


def test_reapply_is_unchanged(o2: O2) -> None:
    o2("apply", "-f", str(SAMPLES))
    again = o2("apply", "-f", str(SAMPLES))
    assert again.exit_code == 0
    assert all(line.endswith(" unchanged") for line in lines(again.stdout))


def test_get_json_round_trips_through_apply_stdin_as_unchanged(o2: O2) -> None:
    o2("apply", "-f", str(SAMPLES))
    listing = o2("get", "env", "-o", "json")
    assert listing.exit_code == 0
    back = o2("apply", "-f", "-", stdin=listing.stdout)
    assert back.exit_code == 0, back.stderr
    assert back.stdout == "environment/physics-1 unchanged\n"
    one = o2("get", "env", "physics-1", "-o", "yaml")
    assert o2("apply", "-f", "-", stdin=one.stdout).stdout == "environment/physics-1 unchanged\n"


def test_get_all_yaml_round_trips_every_kind(o2: O2) -> None:
    o2("apply", "-f", str(SAMPLES))
    everything = o2("get", "all", "-o", "yaml")
    back = o2("apply", "-f", "-", stdin=everything.stdout)
    assert back.exit_code == 0, back.stderr
    assert lines(back.stdout)
    assert all(line.endswith(" unchanged") for line in lines(back.stdout))


def test_one_bad_document_writes_nothing_and_names_the_field(o2: O2, tmp_path: Path) -> None:
    manifest = tmp_path / "mixed.yaml"
    manifest.write_text(GOOD_TC + "---\n" + BAD_TC)
    (tmp_path / "more.yaml").write_text(GOOD_TC.replace("good-one", "good-two"))
    result = o2("apply", "-f", str(tmp_path))
    assert result.exit_code == 1
    assert f"{manifest}: document 2: TaskClass/bad-one: spec.wants.cpus:" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert registry(o2) == {}


def test_every_invalid_document_is_reported(o2: O2, tmp_path: Path) -> None:
    bad_two = BAD_TC.replace("bad-one", "bad-two").replace("wants: {cpus: -1}", "colour: red")
    (tmp_path / "a.yaml").write_text(BAD_TC + "---\n" + bad_two)
    result = o2("apply", "-f", str(tmp_path))
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 2
    assert "spec.colour" in result.stderr


def test_dry_run_writes_nothing(o2: O2) -> None:
    result = o2("apply", "-f", str(SAMPLES), "--dry-run")
    assert result.exit_code == 0
    assert all(line.endswith("created (dry run)") for line in lines(result.stdout))
    assert registry(o2) == {}


def test_missing_file_is_an_error(o2: O2, tmp_path: Path) -> None:
    result = o2("apply", "-f", str(tmp_path / "nope.yaml"))
    assert result.exit_code == 1
    assert "no such file" in result.stderr


def test_diff_exit_codes_none_changed_error(o2: O2, tmp_path: Path) -> None:
    o2("apply", "-f", str(SAMPLES))
    assert o2("diff", "-f", str(SAMPLES)).exit_code == 0
    env_file = tmp_path / "env.yaml"
    env_file.write_text(
        (SAMPLES / "environment-physics-1.yaml")
        .read_text()
        .replace("state: RUNNING", "state: CONFIGURED")
    )
    changed = o2("diff", "-f", str(env_file))
    assert changed.exit_code == 1
    assert "--- live/environment/physics-1" in changed.stdout
    assert "-  state: RUNNING" in changed.stdout
    assert "+  state: CONFIGURED" in changed.stdout
    (tmp_path / "bad.yaml").write_text(BAD_TC)
    assert o2("diff", "-f", str(tmp_path / "bad.yaml")).exit_code == 2


def test_diff_of_a_new_object_shows_it_all_added(o2: O2, tmp_path: Path) -> None:
    (tmp_path / "tc.yaml").write_text(GOOD_TC)
    result = o2("diff", "-f", str(tmp_path / "tc.yaml"))
    assert result.exit_code == 1
    assert "+++ file/taskclass/good-one" in result.stdout


def test_delete_by_manifest_removes_what_it_declares(o2: O2) -> None:
    o2("apply", "-f", str(SAMPLES))
    result = o2("delete", "-f", str(SAMPLES))
    assert result.exit_code == 0, result.stderr
    assert lines(result.stdout)[0].startswith(("event/", "task/", "environment/"))
    assert registry(o2) == {}
