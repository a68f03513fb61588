"""Pure parsing of `--for`, `--timeout`, `-l` and KIND names."""

from __future__ import annotations

import pytest

from cli.jsonpath import check_template, render, select
from cli.selectors import kind_names, matches, parse_selector, resolve_kinds
from cli.waitfor import MISSING, jsonpath_get, parse_timeout, parse_wait_for
from crds.errors import NotFoundError, ValidationError

DOC = {
    "status": {
        "state": "RUNNING",
        "conditions": [{"type": "Ready", "status": "False", "reason": "Deploying"}],
        "roles": [{"path": "a"}, {"path": "b"}],
    }
}


def test_jsonpath_reads_nested_fields_and_indices() -> None:
    assert jsonpath_get(DOC, "{.status.state}") == "RUNNING"
    assert jsonpath_get(DOC, ".status.roles[1].path") == "b"
    assert jsonpath_get(DOC, "{.status.nope}") is MISSING
    assert jsonpath_get(DOC, "{.status.roles[5]}") is MISSING


def test_condition_wait_defaults_to_true_and_reports_what_it_saw() -> None:
    wait = parse_wait_for("condition=Ready")
    outcome = wait.check(DOC)
    assert not outcome.done
    assert outcome.seen == "Ready=False (Deploying)"
    assert parse_wait_for("condition=Ready=false").check(DOC).done


def test_condition_wait_without_that_condition_is_not_done() -> None:
    assert parse_wait_for("condition=Stalled").check(DOC).seen == "no Stalled condition yet"


@pytest.mark.parametrize(
    "spec",
    [
        "jsonpath={.status.state}=RUNNING",
        "jsonpath='{.status.state}'=RUNNING",
        'jsonpath="{.status.state}"=RUNNING',
        "jsonpath=.status.state=RUNNING",
    ],
)
def test_jsonpath_wait_accepts_kubectl_spellings(spec: str) -> None:
    wait = parse_wait_for(spec)
    assert wait.check(DOC).done
    assert not wait.check({"status": {"state": "CONFIGURED"}}).done


def test_jsonpath_wait_without_value_waits_for_presence() -> None:
    wait = parse_wait_for("jsonpath={.status.runNumber}")
    assert not wait.check(DOC).done
    assert wait.check({"status": {"runNumber": 3}}).done


def test_delete_wait_is_done_only_when_absent() -> None:
    wait = parse_wait_for("delete")
    assert wait.check(None).done
    assert not wait.check(DOC).done


@pytest.mark.parametrize("spec", ["", "ready", "condition=", "bogus=x", "jsonpath='{.a"])
def test_bad_wait_for_is_a_validation_error(spec: str) -> None:
    with pytest.raises(ValidationError):
        parse_wait_for(spec)


def test_timeout_accepts_durations_seconds_zero_and_negative() -> None:
    assert parse_timeout("30s") == 30
    assert parse_timeout("1m30s") == 90
    assert parse_timeout("2.5") == 2.5
    assert parse_timeout("0") == 0
    assert parse_timeout("-1") == 7 * 86400
    with pytest.raises(ValidationError):
        parse_timeout("soon")


def test_selector_parses_and_ands_terms() -> None:
    sel = parse_selector("app=tpc, role==readout")
    assert sel == {"app": "tpc", "role": "readout"}
    assert matches({"app": "tpc", "role": "readout", "x": "y"}, sel)
    assert not matches({"app": "tpc"}, sel)
    with pytest.raises(ValidationError):
        parse_selector("app")


def test_kind_names_resolve_plural_singular_short_and_all() -> None:
    for name in ("Environment", "environments", "environment", "env"):
        assert [i.kind for i in resolve_kinds(name)] == ["Environment"]
    everything = {i.kind for i in resolve_kinds("all")}
    assert {"Environment", "Task", "TaskClass"} <= everything
    assert "Event" not in everything
    assert "all" in kind_names()
    with pytest.raises(NotFoundError):
        resolve_kinds("pods")


def test_jsonpath_template_fans_out_and_keeps_literals() -> None:
    doc = {"items": [{"metadata": {"name": "a"}}, {"metadata": {"name": "b"}}], "n": 3}
    assert render(doc, 'names: {.items[*].metadata.name}{"\\n"}') == "names: a b\n"
    assert render(doc, "{.n}/{.missing}") == "3/"
    assert select(doc, ".items[1].metadata") == [{"name": "b"}]
    with pytest.raises(ValidationError):
        check_template("{.a")
