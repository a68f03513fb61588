"""`o2 label` / `o2 annotate`: kubectl's rules (no silent overwrite, `key-` removes), the
label key and value rules, one CAS write, and what they print."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cli.metaedit import Changes, apply_changes, parse_changes
from crds.errors import ValidationError
from crds.labels import ENV_LABEL, key_problem, label_value_problem
from tests.cli.conftest import O2
from tests.cli.test_read_commands import put_env


def stored(o2: O2, name: str) -> dict[str, Any]:
    out = o2("get", "env", name, "-o", "json")
    assert out.exit_code == 0, out.stderr
    document: dict[str, Any] = json.loads(out.stdout)
    return document


def revision(o2: O2, name: str) -> int:
    value: int = stored(o2, name)["metadata"]["resourceVersion"]
    return value


def writes(o2: O2, name: str) -> int:
    """How many times etcd has written the key since it was created (its `version`)."""
    reply = json.loads(o2.etcdctl("get", o2.key("environments", name), "-w", "json"))
    count: int = reply["kvs"][0]["version"]
    return count


def test_label_sets_and_removes_in_one_write(o2: O2) -> None:
    put_env(o2, "alpha", labels={"old": "x"})
    assert writes(o2, "alpha") == 1
    result = o2("label", "env", "alpha", "team=tpc", "shift=night", "old-")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "environment/alpha labeled\n"
    assert stored(o2, "alpha")["metadata"]["labels"] == {"team": "tpc", "shift": "night"}
    assert writes(o2, "alpha") == 2
    assert o2("get", "env", "-l", "team=tpc", "-o", "name").stdout == "environment/alpha\n"


def test_changing_a_value_needs_overwrite_and_the_error_names_the_key(o2: O2) -> None:
    put_env(o2, "alpha", labels={"team": "tpc"})
    before = revision(o2, "alpha")
    refused = o2("label", "env", "alpha", "team=its")
    assert refused.exit_code == 1
    assert "metadata.labels.team" in refused.stderr
    assert "'tpc'" in refused.stderr
    assert "--overwrite" in refused.stderr
    assert revision(o2, "alpha") == before
    same = o2("label", "env", "alpha", "team=tpc")
    assert same.exit_code == 0
    assert same.stdout == "environment/alpha not labeled\n"
    assert revision(o2, "alpha") == before
    forced = o2("label", "env", "alpha", "team=its", "--overwrite")
    assert forced.stdout == "environment/alpha labeled\n"
    assert stored(o2, "alpha")["metadata"]["labels"] == {"team": "its"}


def test_dry_run_says_what_would_happen_and_writes_nothing(o2: O2) -> None:
    put_env(o2, "alpha")
    before = revision(o2, "alpha")
    result = o2("label", "env", "alpha", "team=tpc", "--dry-run")
    assert result.stdout == "environment/alpha labeled (dry run)\n"
    assert revision(o2, "alpha") == before
    assert not stored(o2, "alpha")["metadata"].get("labels")


def test_removing_an_absent_key_warns_and_changes_nothing(o2: O2) -> None:
    put_env(o2, "alpha")
    result = o2("label", "env", "alpha", "nope-")
    assert result.exit_code == 0
    assert "label 'nope' not found" in result.stderr
    assert result.stdout == "environment/alpha not labeled\n"


@pytest.mark.parametrize(
    "arg", ["Bad Key=x", "team=has space", "team=" + "x" * 64, "/team=x", "UPPER.dev/team=x"]
)
def test_invalid_label_keys_and_values_are_refused_before_reading(o2: O2, arg: str) -> None:
    result = o2("label", "env", "missing-anyway", arg)
    assert result.exit_code == 1
    assert "not found" not in result.stderr
    assert "metadata.labels." in result.stderr


def test_annotate_takes_free_text_values_and_the_same_overwrite_rule(o2: O2) -> None:
    put_env(o2, "alpha")
    assert o2("annotate", "env", "alpha", "shifter=Jane Doe").stdout == (
        "environment/alpha annotated\n"
    )
    refused = o2("annotate", "env", "alpha", "shifter=John")
    assert refused.exit_code == 1
    assert "metadata.annotations.shifter" in refused.stderr
    assert o2("annotate", "env", "alpha", "shifter-").stdout == "environment/alpha annotated\n"
    assert not stored(o2, "alpha")["metadata"].get("annotations")


def test_label_of_a_missing_object_is_an_error(o2: O2) -> None:
    result = o2("label", "env", "nope", "team=tpc")
    assert result.exit_code == 1
    assert "environment/nope not found" in result.stderr


def test_legacy_keys_are_written_under_their_current_name() -> None:
    changes = parse_changes("labels", ["o2.environment/name=physics-1"])
    assert changes.set == {ENV_LABEL: "physics-1"}


def test_a_key_both_set_and_removed_is_refused() -> None:
    with pytest.raises(ValidationError, match="both set and removed"):
        parse_changes("labels", ["a=1", "a-"])


def test_apply_changes_keeps_other_keys_and_reports_missing_removals() -> None:
    changes = Changes(which="labels", set={"a": "2"}, remove=("gone", "b"))
    outcome = apply_changes({"a": "2", "b": "1", "c": "3"}, changes, overwrite=False)
    assert outcome.values == {"a": "2", "c": "3"}
    assert outcome.missing == ("gone",)


@pytest.mark.parametrize(
    ("key", "ok"),
    [
        ("team", True),
        ("o2.dev/environment", True),
        ("example.com/a_b.c-d", True),
        ("a" * 63, True),
        ("a" * 64, False),
        ("-team", False),
        ("Example.com/x", False),
        ("a/b/c", False),
        ("x/", False),
    ],
)
def test_label_key_rules(key: str, ok: bool) -> None:
    assert (key_problem(key) is None) is ok


def test_label_values_may_be_empty_but_not_free_text() -> None:
    assert label_value_problem("") is None
    assert label_value_problem("v1.2_b-c") is None
    assert label_value_problem("two words") is not None
